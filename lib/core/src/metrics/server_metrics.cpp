#include "sigkit/metrics/server_metrics.hpp"

#include <cstdio>

namespace sigkit::metrics {
namespace {

constexpr std::array<std::string_view, close_reason_count> close_names{
    "client_close",        "network_error", "heartbeat_timeout", "message_too_big", "binary_frame",
    "send_queue_overflow", "write_timeout", "shutdown",          "protocol_error",  "internal_error",
    "rate_limited",        "token_expired", "lease_lost"};
constexpr std::array<std::string_view, refusal_count> refusal_names{"origin",        "capacity",
                                                                    "shutting_down", "bad_handshake",
                                                                    "address_limit", "address_rate",
                                                                    "auth"};

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

template <class T>
void sample(std::string& out, std::string_view name, T value, std::string_view labels = {}) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ");
  if constexpr (std::is_floating_point_v<T>) out.append(format_double(value));
  else out.append(std::to_string(value));
  out.append("\n");
}

template <class T>
void scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help, T value) {
  header(out, name, type, help);
  sample(out, name, value);
}

// The sum over every loop of one counter.
template <class Get>
std::uint64_t total(std::span<const loop_metrics* const> loops, Get get) {
  std::uint64_t sum = 0;
  for (const auto* loop : loops) sum += get(*loop).value();
  return sum;
}

std::string label(std::string_view key, std::string_view value) {
  return std::string(key) + "=\"" + std::string(value) + "\"";
}

}  // namespace

std::string_view to_string(close_reason reason) noexcept { return close_names[static_cast<std::size_t>(reason)]; }
std::string_view to_string(refusal reason) noexcept { return refusal_names[static_cast<std::size_t>(reason)]; }

void duration_histogram::observe(std::chrono::nanoseconds value) noexcept {
  double seconds = std::chrono::duration<double>(value).count();
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].add();
  sum_ns_.add(static_cast<std::uint64_t>(value.count()));
}

std::string prometheus_text(std::span<const loop_metrics* const> loops, const server_gauges& gauges,
                            const process_figures& process, std::string_view version) {
  using m = loop_metrics;
  std::string out;
  out.reserve(8192);
  const auto opened = total(loops, [](const m& l) -> auto& { return l.connections_opened; });
  const auto closed = total(loops, [](const m& l) -> auto& { return l.connections_closed; });
  const auto http_opened = total(loops, [](const m& l) -> auto& { return l.http_opened; });
  const auto http_closed = total(loops, [](const m& l) -> auto& { return l.http_closed; });
  // Each loop counts its own opens and closes; the difference is the gauge.
  scalar(out, "sigserve_connections_open", "gauge", "WebSocket connections currently open.",
         static_cast<std::int64_t>(opened - closed));
  scalar(out, "sigserve_connections_total", "counter", "WebSocket connections accepted.", opened);
  scalar(out, "sigserve_http_connections", "gauge", "TCP connections not (yet) upgraded to WebSocket.",
         static_cast<std::int64_t>(http_opened - http_closed - opened));
  scalar(out, "sigserve_http_requests_total", "counter", "Plain HTTP requests answered.",
         total(loops, [](const m& l) -> auto& { return l.http_requests; }));
  scalar(out, "sigserve_http_evictions_total", "counter",
         "Unupgraded connections dropped to stay under --max-http-connections (oldest first).",
         total(loops, [](const m& l) -> auto& { return l.http_evicted; }));
  scalar(out, "sigserve_rooms", "gauge", "Rooms with at least one member.", gauges.rooms);
  scalar(out, "sigserve_joins_total", "counter", "Successful joins.",
         total(loops, [](const m& l) -> auto& { return l.joins; }));
  scalar(out, "sigserve_messages_received_total", "counter", "Text frames received from clients.",
         total(loops, [](const m& l) -> auto& { return l.messages_received; }));
  scalar(out, "sigserve_messages_sent_total", "counter", "Frames written to clients.",
         total(loops, [](const m& l) -> auto& { return l.messages_sent; }));
  header(out, "sigserve_messages_relayed_total", "counter", "Relayed messages accepted, by type.");
  for (std::size_t i = 0; i < proto::message_type_count; ++i) {
    auto type = static_cast<proto::message_type>(i);
    if (!proto::is_relay(type)) continue;
    sample(out, "sigserve_messages_relayed_total", total(loops, [i](const m& l) -> auto& { return l.relayed[i]; }),
           label("type", proto::to_string(type)));
  }
  header(out, "sigserve_errors_total", "counter", "error messages sent to clients, by code.");
  for (std::size_t i = 0; i < proto::error_code_count; ++i)
    sample(out, "sigserve_errors_total", total(loops, [i](const m& l) -> auto& { return l.errors[i]; }),
           label("code", proto::to_string(static_cast<proto::error_code>(i))));
  header(out, "sigserve_closes_total", "counter", "WebSocket connections closed, by reason.");
  for (std::size_t i = 0; i < close_reason_count; ++i)
    sample(out, "sigserve_closes_total", total(loops, [i](const m& l) -> auto& { return l.closes[i]; }),
           label("reason", close_names[i]));
  header(out, "sigserve_upgrades_refused_total", "counter", "WebSocket upgrades refused before the handshake, by reason.");
  for (std::size_t i = 0; i < refusal_count; ++i)
    sample(out, "sigserve_upgrades_refused_total",
           total(loops, [i](const m& l) -> auto& { return l.upgrades_refused[i]; }), label("reason", refusal_names[i]));
  header(out, "sigserve_auth_failures_total", "counter", "Tokens refused (at upgrade or refresh), by reason.");
  for (std::size_t i = 0; i < auth::token_error_count; ++i)
    sample(out, "sigserve_auth_failures_total", total(loops, [i](const m& l) -> auto& { return l.auth_failures[i]; }),
           label("reason", auth::to_string(static_cast<auth::token_error>(i))));
  scalar(out, "sigserve_send_queue_overflows_total", "counter",
         "Connections closed because their send queue passed --max-send-queue-bytes or --max-queued-bytes.",
         total(loops, [](const m& l) -> auto& {
           return l.closes[static_cast<std::size_t>(close_reason::send_queue_overflow)];
         }));
  scalar(out, "sigserve_queued_bytes", "gauge", "Bytes waiting to be written, all connections together.",
         gauges.queued_bytes);
  scalar(out, "sigserve_ready", "gauge", "1 while /readyz answers 200, 0 once draining.", gauges.ready ? 1 : 0);

  const std::string join_name = "sigserve_join_duration_seconds";
  header(out, join_name, "histogram", "Time from reading a join to writing its joined reply.");
  std::uint64_t cumulative = 0;
  double sum_ns = 0;
  for (std::size_t i = 0; i <= duration_histogram::bounds.size(); ++i) {
    for (const auto* loop : loops) cumulative += loop->join_latency.bucket(i);
    auto le = i < duration_histogram::bounds.size() ? format_double(duration_histogram::bounds[i]) : "+Inf";
    sample(out, join_name + "_bucket", cumulative, "le=\"" + le + "\"");
  }
  for (const auto* loop : loops) sum_ns += static_cast<double>(loop->join_latency.sum_ns());
  sample(out, join_name + "_sum", sum_ns / 1e9);
  // _count equals the +Inf bucket by definition.
  sample(out, join_name + "_count", cumulative);

  header(out, "sigserve_build_info", "gauge", "Always 1; the labels say which sigserve this is.");
  sample(out, "sigserve_build_info", 1, label("version", version));
  scalar(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.",
         process.cpu_seconds);
  scalar(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", process.resident_bytes);
  scalar(out, "process_open_fds", "gauge", "Open file descriptors.", process.open_fds);
  scalar(out, "process_max_fds", "gauge", "The open-files limit (soft).", process.max_fds);
  scalar(out, "process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch, in seconds.",
         process.start_time_seconds);
  return out;
}

}  // namespace sigkit::metrics
