// sigserve's counters, rendered in the Prometheus text exposition format.
//
// Each event loop owns one `loop_metrics` and is its only writer, so counting
// is a relaxed load and store: no locked instruction and no cache line shared
// between cores on the hot path. A scrape reads every loop's set and adds
// them up.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "sigkit/auth/jwt.hpp"
#include "sigkit/proto/message.hpp"

namespace sigkit::metrics {

// A count with one writing thread and any number of readers.
class local_counter {
 public:
  void add(std::uint64_t n = 1) noexcept { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// Why a WebSocket connection ended (label `reason` of sigserve_closes_total).
enum class close_reason {
  client_close,         // the client sent a close frame
  network_error,        // the TCP connection broke, or the client left without a close frame
  heartbeat_timeout,    // nothing heard for --ping-timeout
  message_too_big,      // 1009
  binary_frame,         // 1003
  send_queue_overflow,  // 1008: the receiver fell too far behind
  write_timeout,        // 1008: its send queue did not move for --write-timeout
  shutdown,             // 1001
  protocol_error,       // invalid WebSocket framing (1002) or UTF-8 (1007)
  internal_error,       // 1011: a bug of ours, caught at the connection's boundary
  rate_limited,         // 1008: it kept sending past the rate limit
  token_expired,        // 1008: its token expired and was not refreshed
  lease_lost,           // 1012: this instance lost its broker lease; the client rejoins elsewhere or here
};
inline constexpr std::size_t close_reason_count = 13;
std::string_view to_string(close_reason reason) noexcept;

// Why an upgrade was refused before any WebSocket traffic.
enum class refusal { origin, capacity, shutting_down, bad_handshake, address_limit, address_rate, auth };
inline constexpr std::size_t refusal_count = 7;
std::string_view to_string(refusal reason) noexcept;

// A Prometheus histogram with fixed buckets (seconds), written by one thread.
class duration_histogram {
 public:
  static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
  void observe(std::chrono::nanoseconds value) noexcept;
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].value(); }  // i == bounds.size(): +Inf
  std::uint64_t sum_ns() const noexcept { return sum_ns_.value(); }

 private:
  std::array<local_counter, bounds.size() + 1> buckets_{};
  local_counter sum_ns_;
};

// What one event loop counts.
struct loop_metrics {
  local_counter connections_opened;  // WebSockets upgraded on this loop
  local_counter connections_closed;
  local_counter http_opened;         // TCP connections accepted
  local_counter http_closed;         // ... that ended before an upgrade (or were refused one)
  local_counter http_requests;
  local_counter http_evicted;        // dropped to make room under --max-http-connections
  local_counter joins;
  std::array<local_counter, proto::message_type_count> relayed{};  // by type
  std::array<local_counter, proto::error_code_count> errors{};     // by code
  std::array<local_counter, close_reason_count> closes{};
  std::array<local_counter, refusal_count> upgrades_refused{};
  std::array<local_counter, auth::token_error_count> auth_failures{};  // upgrades and refreshes, by reason
  local_counter messages_received;
  local_counter messages_sent;
  duration_histogram join_latency;  // join frame read -> joined frame written
};

// Figures of the process as a whole, read at scrape time.
struct process_figures {
  double cpu_seconds = 0;
  std::uint64_t resident_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

struct server_gauges {
  std::int64_t rooms = 0;
  std::uint64_t queued_bytes = 0;  // unsent bytes, all connections
  bool ready = true;               // false once draining
};

std::string prometheus_text(std::span<const loop_metrics* const> loops, const server_gauges& gauges,
                            const process_figures& process, std::string_view version);

}  // namespace sigkit::metrics
