#include "peer_address.hpp"

#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>

namespace sigkit::server {

peer_address peer_address::from(const sockaddr_storage& sa) noexcept {
  peer_address a;
  if (sa.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(sa);
    // A v4 client of a dual-stack listener arrives as ::ffff:a.b.c.d.
    if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
      std::memcpy(a.bytes.data(), in6.sin6_addr.s6_addr + 12, 4);
    } else {
      std::memcpy(a.bytes.data(), in6.sin6_addr.s6_addr, 16);
      a.v6 = true;
    }
    a.port = ntohs(in6.sin6_port);
  } else if (sa.ss_family == AF_INET) {
    const auto& in4 = reinterpret_cast<const sockaddr_in&>(sa);
    std::memcpy(a.bytes.data(), &in4.sin_addr, 4);
    a.port = ntohs(in4.sin_port);
  }
  return a;
}

peer_address peer_address::from(const http::ip_address& ip, std::uint16_t port) noexcept {
  peer_address a;
  a.port = port;
  a.v6 = !ip.is_v4();
  if (a.v6) std::memcpy(a.bytes.data(), ip.bytes.data(), 16);
  else std::memcpy(a.bytes.data(), ip.bytes.data() + 12, 4);
  return a;
}

http::ip_address peer_address::ip() const noexcept {
  if (!v6) return http::ip_address::v4({bytes[0], bytes[1], bytes[2], bytes[3]});
  http::ip_address out;
  std::memcpy(out.bytes.data(), bytes.data(), 16);
  return out;
}

std::string peer_address::to_string() const {
  char text[INET6_ADDRSTRLEN] = "?";
  inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), text, sizeof text);
  std::string out = v6 ? "[" + std::string(text) + "]" : std::string(text);
  return out + ":" + std::to_string(port);
}

}  // namespace sigkit::server
