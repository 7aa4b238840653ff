// Per-connection message rate limit: a token bucket. The clock is passed in,
// so the policy is testable without sleeping.
#pragma once

#include <algorithm>
#include <chrono>

namespace sigkit {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // rate 0 disables the limit. burst is how many messages may arrive at once
  // (ICE gathering sends a dozen candidates in a few milliseconds).
  token_bucket(double rate_per_second, double burst, clock::time_point now)
      : rate_(rate_per_second), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

  bool try_take(clock::time_point now) noexcept {
    if (rate_ <= 0) return true;
    std::chrono::duration<double> elapsed = now - last_;
    last_ = now;
    tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

}  // namespace sigkit
