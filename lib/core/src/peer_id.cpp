#include "sigkit/peer_id.hpp"

#include <array>
#include <stdexcept>

#include <openssl/rand.h>

namespace sigkit {

std::string random_peer_id() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::array<unsigned char, 9> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("the system random generator failed");
  std::string id;
  id.reserve(12);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    unsigned v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) id += alphabet[(v >> shift) & 63];
  }
  return id;
}

}  // namespace sigkit
