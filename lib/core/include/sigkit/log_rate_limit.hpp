// A limit on log lines a peer can trigger (refused upgrades, bad frames,
// overflowing queues): at most `burst` lines in any window of `period`, and a
// count of the ones held back, so that the next line that passes can say
// `suppressed=N`. The clock is passed in, so the policy is testable without
// sleeping. Not thread-safe: one per event loop.
//
//   if (limit.allow(now)) log.warn("origin-refused", {{"origin", o}, {"suppressed", limit.take_suppressed()}});
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace sigkit {

class log_rate_limit {
 public:
  using clock = std::chrono::steady_clock;

  // A burst of 0 lets nothing through; a period of zero lets everything.
  log_rate_limit(std::size_t burst, clock::duration period) : period_(period), passed_(burst) {}

  // Whether a line may be written at `now`; times are expected not to go back.
  bool allow(clock::time_point now) noexcept {
    // The window is a sliding one, not a fixed one: a line passes when the
    // burst-th line before it passed at least a period ago, so no window of
    // `period` ever holds more than `burst` lines, even across a boundary.
    if (passed_.empty() || (filled_ == passed_.size() && now - passed_[oldest_] < period_)) {
      ++suppressed_;
      return false;
    }
    if (filled_ < passed_.size()) ++filled_;
    passed_[oldest_] = now;
    oldest_ = (oldest_ + 1) % passed_.size();
    return true;
  }

  // Lines held back since the count was last taken: take it on each line
  // that passes, and it is the number held back since the previous one.
  std::uint64_t suppressed() const noexcept { return suppressed_; }
  std::uint64_t take_suppressed() noexcept { return std::exchange(suppressed_, 0); }

 private:
  clock::duration period_;
  std::vector<clock::time_point> passed_;  // when the last `burst` lines passed: a ring
  std::size_t oldest_ = 0;                 // the next slot to fill; once full, the oldest
  std::size_t filled_ = 0;
  std::uint64_t suppressed_ = 0;
};

}  // namespace sigkit
