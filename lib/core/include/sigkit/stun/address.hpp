// A transport address as STUN carries it: family, address octets and port.
// A plain value type so the codec, sigprobe's report and the tests share one
// representation without pulling Asio into the sans-I/O core.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::stun {

// RFC 8489 §14.1: the Family octet of (XOR-)MAPPED-ADDRESS.
enum class address_family : std::uint8_t { ipv4 = 0x01, ipv6 = 0x02 };

struct address {
  address_family family_ = address_family::ipv4;
  std::array<std::uint8_t, 16> octets_{};  // IPv4 uses the first 4; the rest stay zero
  std::uint16_t port_ = 0;

  static address ipv4(std::array<std::uint8_t, 4> octets, std::uint16_t port);
  static address ipv6(const std::array<std::uint8_t, 16>& octets, std::uint16_t port);

  // Literal IP text ("192.0.2.1", "2001:db8::1"); no names, no zone ids.
  static result<address, std::string> from_string(std::string_view ip, std::uint16_t port);

  std::size_t octet_count() const noexcept { return family_ == address_family::ipv4 ? 4 : 16; }

  // "192.0.2.1" / "2001:db8::1" (RFC 5952 canonical text).
  std::string ip_string() const;
  // "192.0.2.1:32853" / "[2001:db8::1]:80" (RFC 5952 §6 brackets).
  std::string to_string() const;

  friend bool operator==(const address&, const address&) = default;
};

// "192.0.2.1:3478" or "[2001:db8::1]:3478": what a user types for a peer.
result<address, std::string> parse_endpoint(std::string_view text);

// Where an address sits in the address plan. A probe uses it to explain
// results: a relayed address in private_use on a public TURN server usually
// means coturn lacks `external-ip`; peers in private ranges are often denied
// with 403 by server policy.
enum class address_scope {
  unspecified,    // 0.0.0.0/8, ::/128
  loopback,       // 127.0.0.0/8, ::1/128
  private_use,    // RFC 1918: 10/8, 172.16/12, 192.168/16; RFC 4193: fc00::/7
  shared_cgnat,   // RFC 6598: 100.64.0.0/10
  link_local,     // RFC 3927: 169.254/16; RFC 4291: fe80::/10
  documentation,  // RFC 5737: 192.0.2/24, 198.51.100/24, 203.0.113/24; RFC 3849: 2001:db8::/32
  multicast,      // 224.0.0.0/4, ff00::/8
  reserved,       // 240.0.0.0/4 and 255.255.255.255
  global,         // anything else: routable on the public Internet
};

// IPv4-mapped IPv6 (::ffff:0:0/96) is classified by its embedded IPv4 address.
address_scope scope_of(const address& a) noexcept;
std::string_view to_string(address_scope s) noexcept;

inline bool is_loopback(const address& a) noexcept { return scope_of(a) == address_scope::loopback; }
inline bool is_link_local(const address& a) noexcept { return scope_of(a) == address_scope::link_local; }
// Private in the sense a TURN operator cares about: not reachable from the
// Internet without the NAT in front of it (RFC 1918, RFC 6598 CGNAT, ULA).
inline bool is_private(const address& a) noexcept {
  const auto s = scope_of(a);
  return s == address_scope::private_use || s == address_scope::shared_cgnat;
}
inline bool is_global(const address& a) noexcept { return scope_of(a) == address_scope::global; }

}  // namespace sigkit::stun
