// Address text conversion and classification. inet_pton/inet_ntop are pure
// libc functions (no sockets), and glibc's inet_ntop already writes RFC 5952
// canonical IPv6 text, so there is no hand-written formatter to get wrong.
#include "sigkit/stun/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>

namespace sigkit::stun {

address address::ipv4(std::array<std::uint8_t, 4> octets, std::uint16_t port) {
  address a;
  a.family_ = address_family::ipv4;
  std::copy(octets.begin(), octets.end(), a.octets_.begin());
  a.port_ = port;
  return a;
}

address address::ipv6(const std::array<std::uint8_t, 16>& octets, std::uint16_t port) {
  address a;
  a.family_ = address_family::ipv6;
  a.octets_ = octets;
  a.port_ = port;
  return a;
}

result<address, std::string> address::from_string(std::string_view ip, std::uint16_t port) {
  // inet_pton wants a NUL-terminated string; bound the copy so hostile
  // input cannot make us allocate much.
  if (ip.empty()) return std::string("empty IP address");
  if (ip.size() > 45) return "not an IP address: " + std::string(ip.substr(0, 45)) + "...";
  const std::string text(ip);
  address a;
  a.port_ = port;
  if (inet_pton(AF_INET, text.c_str(), a.octets_.data()) == 1) {
    a.family_ = address_family::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, text.c_str(), a.octets_.data()) == 1) {
    a.family_ = address_family::ipv6;
    return a;
  }
  if (text.find('%') != std::string::npos) return "zone ids are not supported: " + text;
  return "not an IP address: " + text;
}

std::string address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  const int af = family_ == address_family::ipv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, octets_.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::string address::to_string() const {
  std::string out;
  if (family_ == address_family::ipv6) {
    out = "[" + ip_string() + "]";
  } else {
    out = ip_string();
  }
  return out + ":" + std::to_string(port_);
}

result<address, std::string> parse_endpoint(std::string_view text) {
  std::string_view ip;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' in " + std::string(text);
    ip = text.substr(1, close - 1);
    const auto rest = text.substr(close + 1);
    if (rest.size() < 2 || rest.front() != ':') return "missing port after ']' in " + std::string(text);
    port_text = rest.substr(1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return "missing port in " + std::string(text);
    ip = text.substr(0, colon);
    if (ip.find(':') != std::string_view::npos) return "IPv6 endpoints need brackets: [" + std::string(ip) + "]:port";
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535 || port_text.empty())
    return "bad port '" + std::string(port_text) + "' in " + std::string(text);
  auto a = address::from_string(ip, static_cast<std::uint16_t>(port));
  if (!a) return a.error();
  if (a->family_ == address_family::ipv6 && text.front() != '[')
    return "IPv6 endpoints need brackets: [" + std::string(ip) + "]:port";
  return a;
}

namespace {

address_scope scope_v4(const std::uint8_t* o) noexcept {
  const unsigned a = o[0];
  const unsigned b = o[1];
  const unsigned c = o[2];
  if (a == 0) return address_scope::unspecified;          // RFC 1122 §3.2.1.3 "this network"
  if (a == 127) return address_scope::loopback;
  if (a == 10) return address_scope::private_use;          // RFC 1918
  if (a == 172 && (b & 0xF0) == 16) return address_scope::private_use;
  if (a == 192 && b == 168) return address_scope::private_use;
  if (a == 100 && (b & 0xC0) == 64) return address_scope::shared_cgnat;  // RFC 6598
  if (a == 169 && b == 254) return address_scope::link_local;            // RFC 3927
  if ((a == 192 && b == 0 && c == 2) || (a == 198 && b == 51 && c == 100) || (a == 203 && b == 0 && c == 113))
    return address_scope::documentation;                                 // RFC 5737
  if ((a & 0xF0) == 224) return address_scope::multicast;                // RFC 5771
  if ((a & 0xF0) == 240) return address_scope::reserved;                 // RFC 1112 §4, incl. broadcast
  return address_scope::global;
}

}  // namespace

address_scope scope_of(const address& a) noexcept {
  const auto& o = a.octets_;
  if (a.family_ == address_family::ipv4) return scope_v4(o.data());

  const bool first_ten_zero = std::all_of(o.begin(), o.begin() + 10, [](std::uint8_t x) { return x == 0; });
  // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d is an IPv4 address in IPv6 clothing.
  if (first_ten_zero && o[10] == 0xFF && o[11] == 0xFF) return scope_v4(o.data() + 12);
  if (first_ten_zero && o[10] == 0 && o[11] == 0 && o[12] == 0 && o[13] == 0 && o[14] == 0) {
    if (o[15] == 0) return address_scope::unspecified;  // ::
    if (o[15] == 1) return address_scope::loopback;     // ::1
  }
  if ((o[0] & 0xFE) == 0xFC) return address_scope::private_use;                 // RFC 4193 fc00::/7
  if (o[0] == 0xFE && (o[1] & 0xC0) == 0x80) return address_scope::link_local;  // fe80::/10
  if (o[0] == 0xFF) return address_scope::multicast;                            // ff00::/8
  if (o[0] == 0x20 && o[1] == 0x01 && o[2] == 0x0D && o[3] == 0xB8) return address_scope::documentation;  // RFC 3849
  return address_scope::global;
}

std::string_view to_string(address_scope s) noexcept {
  switch (s) {
    case address_scope::unspecified: return "unspecified";
    case address_scope::loopback: return "loopback";
    case address_scope::private_use: return "private";
    case address_scope::shared_cgnat: return "shared (CGNAT)";
    case address_scope::link_local: return "link-local";
    case address_scope::documentation: return "documentation";
    case address_scope::multicast: return "multicast";
    case address_scope::reserved: return "reserved";
    case address_scope::global: return "global";
  }
  return "?";
}

}  // namespace sigkit::stun
