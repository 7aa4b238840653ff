// Capacity search (`--find-capacity 'join.p99<50ms'`): the arrival rate is
// stepped up, one run of --duration per step, until the condition breaks or
// the generator saturates; the answer is the highest rate that held, and the
// curve of the condition's metric against the rate. Pure: the engine runs the
// steps, this decides what comes next and what it all meant.
//
//   p99 |                         x   <- broke: 1600/s
//       |                    x
//       |      x      x                  held up to 1400/s
//       +------+------+------+----+--- rate
//             200    600   1000  1400
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/bench/threshold.hpp"

namespace sigkit::bench {

struct capacity_step {
  double rate = 0;                 // arrivals per second asked for
  double join_rate = 0;            // what the server admitted
  std::optional<double> observed;  // the condition's metric (nullopt: not measured)
  bool held = false;               // the condition and every other rule of the run held
  bool saturated = false;          // the generator could not keep the rate: the step proves nothing
  std::string broke;               // when not held: the first rule that failed, with what it observed
};

struct capacity_result {
  std::string condition;               // as written
  std::string unit;                    // of `observed`: "ms" for latencies, else ""
  std::optional<double> highest_rate;  // the highest rate that held; nullopt when the first step did not
  std::string ended;                   // why the search stopped, one sentence
  std::vector<capacity_step> steps;
};

class capacity_search {
 public:
  // Rates start, start + step, start + 2 step, ... at most max_steps of them.
  capacity_search(const threshold& condition, double start, double step, std::size_t max_steps = 100);

  bool done() const noexcept { return done_; }
  double next_rate() const noexcept;
  // The outcome of the step at next_rate(); decides whether there is another.
  void record(capacity_step step);
  // The search stopped from outside (an interrupt, an aborted run).
  void stop(std::string why);

  const capacity_result& result() const noexcept { return result_; }
  const threshold& condition() const noexcept { return condition_; }

 private:
  threshold condition_;
  double start_, step_;
  std::size_t max_steps_;
  bool done_ = false;
  capacity_result result_;
};

nlohmann::json to_json(const capacity_result& c);
// The curve as a table, and the verdict in one line.
void write_text(std::ostream& out, const capacity_result& c);

}  // namespace sigkit::bench
