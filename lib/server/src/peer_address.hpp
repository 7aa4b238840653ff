// A client's address in 20 bytes instead of a sockaddr_storage's 128, kept
// for the logs (and, later, for limits by address).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "sigkit/http/client_address.hpp"

#include <sys/socket.h>

namespace sigkit::server {

struct peer_address {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 in the first four
  std::uint16_t port = 0;
  bool v6 = false;

  static peer_address from(const sockaddr_storage& sa) noexcept;
  static peer_address from(const http::ip_address& ip, std::uint16_t port) noexcept;
  http::ip_address ip() const noexcept;
  std::string to_string() const;  // 192.0.2.1:5000, [2001:db8::1]:5000
};

}  // namespace sigkit::server
