#include "sigkit/bench/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace sigkit::bench {

namespace {

using std::chrono::nanoseconds;

constexpr double ns_per_s = 1e9;
// Beyond 2^53 peer indexes stop being exact doubles; no run comes near it.
constexpr double max_peers = 9007199254740992.0;

double to_seconds(nanoseconds d) { return static_cast<double>(d.count()) / ns_per_s; }

}  // namespace

result<arrival_schedule, schedule_error> arrival_schedule::make(const arrival_plan& plan) {
  if (!std::isfinite(plan.rate_per_s) || plan.rate_per_s < 0.0)
    return schedule_error{"arrival rate must be a finite number of peers per second, 0 or more (0: closed model)"};
  if (plan.ramp_up < nanoseconds::zero()) return schedule_error{"ramp-up must not be negative"};
  if (plan.duration && *plan.duration < nanoseconds::zero()) return schedule_error{"duration must not be negative"};
  if (!plan.peers && !plan.duration) return schedule_error{"the plan needs a number of peers or a duration"};

  arrival_schedule schedule(plan);
  if (schedule.model() == load_model::closed) {
    schedule.planned_peers_ = plan.peers;
    return schedule;
  }

  std::optional<std::uint64_t> by_duration;
  if (plan.duration) {
    const double arriving = schedule.arrivals_by(to_seconds(*plan.duration));
    if (!(arriving < max_peers))
      return schedule_error{"rate times duration is too many peers for one run"};
    // Peers whose intended start falls before the end: i < N(duration),
    // settled against the rounded start times themselves so that
    // intended_start(planned - 1) < duration <= intended_start(planned).
    auto count = static_cast<std::uint64_t>(std::ceil(arriving));
    while (count > 0 && schedule.start_of(count - 1) >= *plan.duration) --count;
    while (schedule.start_of(count) < *plan.duration) ++count;
    by_duration = count;
  }
  if (plan.peers && by_duration)
    schedule.planned_peers_ = std::min(*plan.peers, *by_duration);
  else
    schedule.planned_peers_ = plan.peers ? plan.peers : by_duration;
  return schedule;
}

arrival_schedule::arrival_schedule(const arrival_plan& plan)
    : plan_(plan), rate_per_s_(plan.rate_per_s), ramp_s_(to_seconds(plan.ramp_up)) {}

double arrival_schedule::arrivals_by(double seconds) const noexcept {
  if (seconds <= 0.0) return 0.0;
  if (seconds <= ramp_s_) return rate_per_s_ * seconds * seconds / (2.0 * ramp_s_);
  return rate_per_s_ * ramp_s_ / 2.0 + rate_per_s_ * (seconds - ramp_s_);
}

double arrival_schedule::time_of_arrival(double index) const noexcept {
  const double during_ramp = rate_per_s_ * ramp_s_ / 2.0;  // N(T)
  if (index <= during_ramp) return std::sqrt(2.0 * ramp_s_ * index / rate_per_s_);
  return ramp_s_ + (index - during_ramp) / rate_per_s_;
}

nanoseconds arrival_schedule::start_of(std::uint64_t peer) const noexcept {
  return nanoseconds{std::llround(time_of_arrival(static_cast<double>(peer)) * ns_per_s)};
}

std::optional<nanoseconds> arrival_schedule::intended_start(std::uint64_t peer) const noexcept {
  if (model() == load_model::closed || !planned_peers_ || peer >= *planned_peers_) return std::nullopt;
  return start_of(peer);
}

std::uint64_t arrival_schedule::due_by(nanoseconds elapsed) const noexcept {
  if (model() == load_model::closed || elapsed < nanoseconds::zero()) return 0;
  const std::uint64_t planned = planned_peers_.value_or(0);
  if (planned == 0) return 0;
  // N(t) gives the answer up to rounding; the loops settle it against the
  // same start times intended_start() hands out, so the two always agree.
  const double estimate = std::floor(arrivals_by(to_seconds(elapsed))) + 1.0;
  std::uint64_t due = estimate >= static_cast<double>(planned) ? planned : static_cast<std::uint64_t>(estimate);
  while (due > 0 && start_of(due - 1) > elapsed) --due;
  while (due < planned && start_of(due) <= elapsed) ++due;
  return due;
}

start_timing classify_start(nanoseconds intended, nanoseconds actual, nanoseconds late_bound) noexcept {
  const nanoseconds lag = std::max(actual - intended, nanoseconds::zero());
  return start_timing{lag, lag > late_bound};
}

start_timing late_start_tally::observe(nanoseconds intended, nanoseconds actual) noexcept {
  const start_timing timing = classify_start(intended, actual, late_bound_);
  ++starts_;
  if (timing.late) ++late_starts_;
  worst_lag_ = std::max(worst_lag_, timing.lag);
  return timing;
}

void late_start_tally::merge(const late_start_tally& other) noexcept {
  starts_ += other.starts_;
  late_starts_ += other.late_starts_;
  worst_lag_ = std::max(worst_lag_, other.worst_lag_);
}

}  // namespace sigkit::bench
