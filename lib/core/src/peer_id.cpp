#include "sigkit/peer_id.hpp"

#include <array>
#include <cstring>
#include <stdexcept>

#include <pthread.h>

#include <openssl/rand.h>

namespace sigkit {
namespace {

constexpr std::size_t id_bytes = 9;

// Randomness is drawn from the CSPRNG 64 ids at a time: RAND_bytes costs a
// system call (its fork check) per call, which at thousands of connections a
// second is the largest part of making an id.
struct random_pool {
  std::array<unsigned char, id_bytes * 64> bytes{};
  std::size_t used = bytes.size();
};

thread_local random_pool pool;

// A forked child must never hand out its parent's unused bytes.
void forget_pool() noexcept { pool.used = pool.bytes.size(); }
const bool fork_guard = [] { return pthread_atfork(nullptr, nullptr, forget_pool) == 0; }();

}  // namespace

std::string random_peer_id() {
  (void)fork_guard;
  if (pool.used + id_bytes > pool.bytes.size()) {
    if (RAND_bytes(pool.bytes.data(), static_cast<int>(pool.bytes.size())) != 1)
      throw std::runtime_error("the system random generator failed");
    pool.used = 0;
  }
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const unsigned char* bytes = pool.bytes.data() + pool.used;
  std::string id;
  id.reserve(12);
  for (std::size_t i = 0; i < id_bytes; i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) id += alphabet[(v >> shift) & 63];
  }
  // Each byte serves once.
  std::memset(pool.bytes.data() + pool.used, 0, id_bytes);
  pool.used += id_bytes;
  return id;
}

}  // namespace sigkit
