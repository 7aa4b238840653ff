#include "address_limits.hpp"

#include <cstring>

namespace sigkit::server {

std::size_t address_limits::address_hash::operator()(const http::ip_address& a) const noexcept {
  std::uint64_t hi, lo;
  std::memcpy(&hi, a.bytes.data(), 8);
  std::memcpy(&lo, a.bytes.data() + 8, 8);
  return static_cast<std::size_t>((hi * 0x9E3779B97F4A7C15ull) ^ (lo + 0x632BE59BD9B4E019ull + (hi << 6)));
}

address_limits::verdict address_limits::admit(const http::ip_address& address, std::uint32_t now_ms) {
  auto& s = shard_of(address);
  std::lock_guard lock(s.mutex);
  auto [it, fresh] = s.entries.try_emplace(address);
  auto& e = it->second;
  if (fresh) e.bucket.start(rate_, now_ms);
  e.last_ms = now_ms;
  if (max_ > 0 && e.connections >= max_) return verdict::too_many;
  if (!e.bucket.try_take(rate_, now_ms)) return verdict::too_fast;
  ++e.connections;
  return verdict::admitted;
}

void address_limits::release(const http::ip_address& address, std::uint32_t now_ms) {
  auto& s = shard_of(address);
  std::lock_guard lock(s.mutex);
  auto it = s.entries.find(address);
  if (it == s.entries.end()) return;
  if (it->second.connections > 0) --it->second.connections;
  it->second.last_ms = now_ms;
  if (idle(it->second, now_ms)) s.entries.erase(it);
}

bool address_limits::idle(const entry& e, std::uint32_t now_ms) const noexcept {
  if (e.connections > 0) return false;
  // Forgetting an address resets its bucket: only once it would be full anyway.
  if (rate_.per_second <= 0) return true;
  double refill_ms = std::max(rate_.burst, 1.0) / rate_.per_second * 1000.0;
  return now_ms - e.last_ms >= refill_ms;
}

void address_limits::sweep(std::uint32_t now_ms) {
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    for (auto it = s.entries.begin(); it != s.entries.end();)
      it = idle(it->second, now_ms) ? s.entries.erase(it) : std::next(it);
  }
}

}  // namespace sigkit::server
