#include "sigkit/metrics/server_metrics.hpp"

#include <cstdio>

namespace sigkit::metrics {
namespace {

constexpr std::array<std::string_view, close_reason_count> close_names{
    "client_close", "network_error", "heartbeat_timeout", "message_too_big",
    "binary_frame", "send_queue_overflow", "shutdown", "protocol_error"};
constexpr std::array<std::string_view, refusal_count> refusal_names{"origin", "capacity",
                                                                    "shutting_down"};

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

template <class T>
void sample(std::string& out, std::string_view name, const T& value, std::string_view labels = {}) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out.append(" ").append(std::to_string(value)).append("\n");
}

// A metric with a single, unlabelled sample.
template <class T>
void scalar(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            const std::atomic<T>& value) {
  header(out, name, type, help);
  sample(out, name, value.load());
}

std::string format_double(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::string_view to_string(close_reason reason) noexcept {
  return close_names[static_cast<std::size_t>(reason)];
}

std::string_view to_string(refusal reason) noexcept {
  return refusal_names[static_cast<std::size_t>(reason)];
}

void duration_histogram::observe(std::chrono::nanoseconds value) noexcept {
  double seconds = std::chrono::duration<double>(value).count();
  std::size_t i = 0;
  while (i < bounds.size() && seconds > bounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(value.count()), std::memory_order_relaxed);
}

void duration_histogram::write(std::string& out, std::string_view name, std::string_view help) const {
  header(out, name, "histogram", help);
  std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    sample(out, bucket, cumulative, "le=\"" + format_double(bounds[i]) + "\"");
  }
  cumulative += buckets_.back().load(std::memory_order_relaxed);
  sample(out, bucket, cumulative, "le=\"+Inf\"");
  out.append(name).append("_sum ").append(format_double(sum_ns_.load() / 1e9)).append("\n");
  // _count equals the +Inf bucket by definition; reading it from the buckets
  // keeps the two consistent even while other threads observe.
  sample(out, std::string(name) + "_count", cumulative);
}

std::string server_metrics::prometheus_text() const {
  std::string out;
  out.reserve(4096);
  scalar(out, "sigserve_connections_open", "gauge", "WebSocket connections currently open.", connections_open);
  scalar(out, "sigserve_connections_total", "counter", "WebSocket connections accepted.", connections_total);
  scalar(out, "sigserve_rooms", "gauge", "Rooms with at least one member.", rooms);
  scalar(out, "sigserve_joins_total", "counter", "Successful joins.", joins);
  scalar(out, "sigserve_messages_received_total", "counter", "Text frames received from clients.", messages_received);
  scalar(out, "sigserve_messages_sent_total", "counter", "Frames written to clients.", messages_sent);
  header(out, "sigserve_messages_relayed_total", "counter", "Relayed messages accepted, by type.");
  for (std::size_t i = 0; i < relayed.size(); ++i) {
    auto type = static_cast<proto::message_type>(i);
    if (!proto::is_relay(type)) continue;
    sample(out, "sigserve_messages_relayed_total", relayed[i].load(),
           "type=\"" + std::string(proto::to_string(type)) + "\"");
  }
  header(out, "sigserve_errors_total", "counter", "error messages sent to clients, by code.");
  for (std::size_t i = 0; i < errors.size(); ++i)
    sample(out, "sigserve_errors_total", errors[i].load(),
           "code=\"" + std::string(proto::to_string(static_cast<proto::error_code>(i))) + "\"");
  header(out, "sigserve_closes_total", "counter", "WebSocket connections closed, by reason.");
  for (std::size_t i = 0; i < closes.size(); ++i)
    sample(out, "sigserve_closes_total", closes[i].load(),
           "reason=\"" + std::string(close_names[i]) + "\"");
  header(out, "sigserve_upgrades_refused_total", "counter",
         "WebSocket upgrades refused before the handshake, by reason.");
  for (std::size_t i = 0; i < upgrades_refused.size(); ++i)
    sample(out, "sigserve_upgrades_refused_total", upgrades_refused[i].load(),
           "reason=\"" + std::string(refusal_names[i]) + "\"");
  scalar(out, "sigserve_send_queue_overflows_total", "counter",
         "Connections closed because their send queue exceeded --max-send-queue-bytes.", send_queue_overflows);
  join_latency.write(out, "sigserve_join_duration_seconds",
                     "Time from reading a join to writing its joined reply.");
  return out;
}

}  // namespace sigkit::metrics
