// Per-connection message rate limit: a token bucket. The policy (rate and
// burst) is the server's, shared by every connection; a connection keeps only
// its bucket's level and when it was last filled: 8 bytes. The clock is passed
// in, so the policy is testable without sleeping.
#pragma once

#include <algorithm>
#include <cstdint>

namespace sigkit {

struct rate_policy {
  double per_second = 0;  // 0 disables the limit
  // How many messages may arrive at once: ICE gathering sends a dozen
  // candidates within a few milliseconds.
  double burst = 1;
};

class token_bucket {
 public:
  // now_ms is any monotonic millisecond count (it may wrap: only
  // differences of less than 49 days are used).
  void start(const rate_policy& p, std::uint32_t now_ms) noexcept {
    tokens_ = static_cast<float>(std::max(p.burst, 1.0));
    last_ms_ = now_ms;
  }

  bool try_take(const rate_policy& p, std::uint32_t now_ms) noexcept {
    if (p.per_second <= 0) return true;
    std::uint32_t elapsed = now_ms - last_ms_;
    last_ms_ = now_ms;
    double level = std::min(std::max(p.burst, 1.0), tokens_ + elapsed * p.per_second / 1000.0);
    if (level < 1.0) {
      tokens_ = static_cast<float>(level);
      return false;
    }
    tokens_ = static_cast<float>(level - 1.0);
    return true;
  }

 private:
  float tokens_ = 0;
  std::uint32_t last_ms_ = 0;
};

}  // namespace sigkit
