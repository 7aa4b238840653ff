// sigserve's counters, rendered in the Prometheus text exposition format.
// Lock-free: every thread bumps atomics; a scrape reads them.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "sigkit/proto/message.hpp"

namespace sigkit::metrics {

// Why a WebSocket connection ended (label `reason` of sigserve_closes_total).
enum class close_reason {
  client_close,         // the client sent a close frame
  network_error,        // the TCP connection broke
  heartbeat_timeout,    // nothing heard for --ping-timeout
  message_too_big,      // 1009
  binary_frame,         // 1003
  send_queue_overflow,  // 1008: the receiver fell too far behind
  shutdown,             // 1001
  protocol_error,       // invalid WebSocket framing or UTF-8
};
inline constexpr std::size_t close_reason_count = 8;
std::string_view to_string(close_reason reason) noexcept;

// Why an upgrade was refused before any WebSocket traffic.
enum class refusal { origin, capacity, shutting_down };
inline constexpr std::size_t refusal_count = 3;
std::string_view to_string(refusal reason) noexcept;

// A Prometheus histogram with fixed buckets (seconds). Observations from any
// thread; cumulative counts are computed at scrape time.
class duration_histogram {
 public:
  static constexpr std::array<double, 14> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                 0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};
  void observe(std::chrono::nanoseconds value) noexcept;
  void write(std::string& out, std::string_view name, std::string_view help) const;

 private:
  std::array<std::atomic<std::uint64_t>, bounds.size() + 1> buckets_{};  // last is +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

struct server_metrics {
  std::atomic<std::int64_t> connections_open{0};
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::int64_t> rooms{0};
  std::atomic<std::uint64_t> joins{0};
  std::array<std::atomic<std::uint64_t>, proto::message_type_count> relayed{};  // by type
  std::array<std::atomic<std::uint64_t>, proto::error_code_count> errors{};     // by code
  std::array<std::atomic<std::uint64_t>, close_reason_count> closes{};
  std::array<std::atomic<std::uint64_t>, refusal_count> upgrades_refused{};
  std::atomic<std::uint64_t> send_queue_overflows{0};
  std::atomic<std::uint64_t> messages_received{0};
  std::atomic<std::uint64_t> messages_sent{0};
  duration_histogram join_latency;  // join frame read -> joined frame written

  std::string prometheus_text() const;
};

}  // namespace sigkit::metrics
