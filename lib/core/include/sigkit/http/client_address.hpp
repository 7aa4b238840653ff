// Who a client is, by address: the direct peer's, or, when that peer is a
// proxy we trust, the one it reports in X-Forwarded-For. Pure: addresses in,
// an address out.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

namespace sigkit::http {

// An IPv4 or IPv6 address; IPv4 is kept as IPv4-mapped IPv6 (::ffff:a.b.c.d)
// so that one comparison serves both.
struct ip_address {
  std::array<std::uint8_t, 16> bytes{};

  static std::optional<ip_address> parse(std::string_view text) noexcept;  // "192.0.2.1", "2001:db8::1", "[::1]"
  static ip_address v4(std::array<std::uint8_t, 4> a) noexcept;
  bool is_v4() const noexcept;
  std::string to_string() const;
  friend bool operator==(const ip_address&, const ip_address&) = default;
};

// "10.0.0.0/8", "2001:db8::/32", or a single address (a /32 or /128).
struct cidr {
  ip_address base;
  unsigned prefix = 128;  // in the IPv6 (mapped) space

  static result<cidr, std::string> parse(std::string_view text);
  bool contains(const ip_address& a) const noexcept;
};

// The client's address: `peer` unless `peer` is a trusted proxy, in which
// case the rightmost address of X-Forwarded-For that is not itself a trusted
// proxy (addresses to its left were written by the client and prove
// nothing). A header that does not parse leaves the peer's address.
ip_address client_address(const ip_address& peer, std::string_view forwarded_for,
                          const std::vector<cidr>& trusted_proxies);

}  // namespace sigkit::http
