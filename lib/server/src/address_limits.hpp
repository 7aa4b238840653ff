// Limits by client address (--max-connections-per-ip, --connection-rate-per-ip):
// how many WebSockets one address holds, and how fast it may open new ones.
// Off by default (decisions.md): behind a load balancer every client comes
// from a few addresses. Shared by the loops, sharded under 16 locks; touched
// on upgrade and close only.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "sigkit/http/client_address.hpp"
#include "sigkit/rate_limit.hpp"

namespace sigkit::server {

class address_limits {
 public:
  address_limits(std::size_t max_per_address, rate_policy new_connections) noexcept
      : max_(max_per_address), rate_(new_connections) {}

  bool enabled() const noexcept { return max_ > 0 || rate_.per_second > 0; }

  enum class verdict { admitted, too_many, too_fast };
  // Counts a new connection from `address` when it is admitted.
  verdict admit(const http::ip_address& address, std::uint32_t now_ms);
  void release(const http::ip_address& address, std::uint32_t now_ms);
  // Forgets addresses with no connection whose bucket has refilled.
  void sweep(std::uint32_t now_ms);

 private:
  struct entry {
    std::size_t connections = 0;
    token_bucket bucket;
    std::uint32_t last_ms = 0;
  };
  struct address_hash {
    std::size_t operator()(const http::ip_address& a) const noexcept;
  };
  struct alignas(64) shard {
    std::mutex mutex;
    std::unordered_map<http::ip_address, entry, address_hash> entries;
  };
  shard& shard_of(const http::ip_address& a) noexcept { return shards_[address_hash{}(a) % shards_.size()]; }
  bool idle(const entry& e, std::uint32_t now_ms) const noexcept;

  const std::size_t max_;
  const rate_policy rate_;
  std::array<shard, 16> shards_;
};

}  // namespace sigkit::server
