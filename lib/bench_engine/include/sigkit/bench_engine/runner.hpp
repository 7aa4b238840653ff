// Runs a sigbench scenario: simulated peers on the library's WebSocket
// client, one event loop per thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>

#include "sigkit/bench/report.hpp"
#include "sigkit/bench/scenario.hpp"

namespace sigkit::bench_engine {

// What the progress line shows, sampled about once a second.
struct live_status {
  double elapsed_s = 0;
  double arrivals_end_s = 0;  // when the last peer is due (open model), else 0
  std::uint64_t started = 0, planned = 0;
  std::uint64_t connected = 0, in_rooms = 0;
  double joins_per_s = 0, messages_per_s = 0;
  double join_p99_ms = 0;
  std::uint64_t errors = 0, failed = 0;
};

using progress_callback = std::function<void(const live_status&)>;

// Blocks until the run ends. Setting `stop` (e.g. from SIGINT) ends it early;
// the report then says it was aborted.
bench::report run(const bench::scenario& plan, const progress_callback& on_progress, const std::atomic<bool>& stop);

}  // namespace sigkit::bench_engine
