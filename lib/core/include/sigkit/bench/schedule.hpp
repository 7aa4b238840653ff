// When each simulated peer should start: sigbench's open-model arrival schedule.
//
// Latency is measured from these intended times, not from when the generator
// got round to starting a peer, so a stalled server cannot hide behind a
// stalled generator (wrk2's coordinated-omission correction). Pure: times are
// offsets from the run's start; the caller owns the clock.
//
// Arrival rate over time, with a linear ramp-up of length T to the full rate R:
//
//   rate                          peers started by t:
//    R |       ____________         N(t) = R t^2 / (2T)         t <= T
//      |      /                     N(t) = R T / 2 + R (t - T)  t >  T
//      |    /
//      |  /                       Peer i (0-based) starts at the t where N(t) = i,
//    0 |/______________ t         so peer 0 starts at 0 and, without ramp-up,
//       0    T                    peer i at i / R.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "sigkit/result.hpp"

namespace sigkit::bench {

enum class load_model {
  open,    // peers arrive on the schedule, whatever the server does
  closed,  // rate 0: a fixed number in flight, the next starting when one ends
};

struct arrival_plan {
  double rate_per_s = 0.0;  // full arrival rate; 0 selects the closed model
  std::chrono::nanoseconds ramp_up{0};
  // At least one of these; with both, whichever ends the run first.
  std::optional<std::uint64_t> peers{};
  std::optional<std::chrono::nanoseconds> duration{};
};

struct schedule_error {
  std::string message;
};

class arrival_schedule {
 public:
  // Rejects a negative or non-finite rate, a negative ramp-up or duration, and
  // a plan with neither peers nor duration.
  static result<arrival_schedule, schedule_error> make(const arrival_plan& plan);

  load_model model() const noexcept { return rate_per_s_ > 0.0 ? load_model::open : load_model::closed; }

  // How many peers the run starts. Open model: `peers`, or as many as arrive
  // within `duration` (those whose intended start is before it), whichever
  // is fewer. Closed model: `peers`, or nullopt when only a duration bounds it.
  std::optional<std::uint64_t> planned_peers() const noexcept { return planned_peers_; }

  // Open model: peer i's intended start, an offset from the run's start;
  // nondecreasing in i. nullopt in the closed model (there is no intended
  // time; latency runs from the actual start) and for i >= planned_peers().
  std::optional<std::chrono::nanoseconds> intended_start(std::uint64_t peer) const noexcept;

  // Open model: how many peers are due by `elapsed`, i.e. the number of i with
  // intended_start(i) <= elapsed, capped at planned_peers(). The generator
  // starts peers [started, due_by(now)) on each wake-up. 0 in the closed model.
  std::uint64_t due_by(std::chrono::nanoseconds elapsed) const noexcept;

  const arrival_plan& plan() const noexcept { return plan_; }

 private:
  explicit arrival_schedule(const arrival_plan& plan);
  // N(t) and its inverse in seconds, as in the drawing above.
  double arrivals_by(double seconds) const noexcept;
  double time_of_arrival(double index) const noexcept;
  // Peer i's start rounded to the nanosecond, ignoring planned_peers().
  std::chrono::nanoseconds start_of(std::uint64_t peer) const noexcept;

  arrival_plan plan_;
  double rate_per_s_ = 0.0;
  double ramp_s_ = 0.0;
  std::optional<std::uint64_t> planned_peers_;
};

// A start is late when it happens more than `late_bound` after its intended
// time. Many late starts mean the generator, not the server, is the
// bottleneck: sigbench then says "generator saturated" and exits 4.
struct start_timing {
  std::chrono::nanoseconds lag;  // actual - intended, 0 if early
  bool late;
};

start_timing classify_start(std::chrono::nanoseconds intended, std::chrono::nanoseconds actual,
                            std::chrono::nanoseconds late_bound) noexcept;

// Per-thread tally of start lateness, merged at the end like the histograms.
class late_start_tally {
 public:
  explicit late_start_tally(std::chrono::nanoseconds late_bound) noexcept : late_bound_(late_bound) {}

  start_timing observe(std::chrono::nanoseconds intended, std::chrono::nanoseconds actual) noexcept;
  void merge(const late_start_tally& other) noexcept;

  std::uint64_t starts() const noexcept { return starts_; }
  std::uint64_t late_starts() const noexcept { return late_starts_; }
  std::chrono::nanoseconds worst_lag() const noexcept { return worst_lag_; }
  std::chrono::nanoseconds late_bound() const noexcept { return late_bound_; }

 private:
  std::chrono::nanoseconds late_bound_;
  std::uint64_t starts_ = 0;
  std::uint64_t late_starts_ = 0;
  std::chrono::nanoseconds worst_lag_{0};
};

}  // namespace sigkit::bench
