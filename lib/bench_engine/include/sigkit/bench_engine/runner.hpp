// Runs a sigbench scenario: simulated peers on lean client connections (the
// core's RFC 6455 codec on plain non-blocking sockets), one event loop per
// thread, speaking the scenario's dialect.
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
  std::size_t step = 0;  // capacity search: which step (from 1), else 0
  double step_rate = 0;  // and its arrival rate
};

using progress_callback = std::function<void(const live_status&)>;

// Blocks until the run ends. Setting `stop` (e.g. from SIGINT) ends it early;
// the report then says it was aborted. With plan.find_capacity it runs the
// capacity search, one run per step, and returns the report of the highest
// rate that held (else of the last step) with `capacity` filled in. Mistakes
// in the plan (a bad URL, dialect or CA file) throw std::invalid_argument.
bench::report run(const bench::scenario& plan, const progress_callback& on_progress, const std::atomic<bool>& stop);

}  // namespace sigkit::bench_engine
