#include "sigkit/http/client_address.hpp"

#include <charconv>
#include <cstring>

#include <arpa/inet.h>

namespace sigkit::http {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<ip_address> ip_address::parse(std::string_view text) noexcept {
  text = trim(text);
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.empty() || text.size() >= 64) return std::nullopt;
  char buf[64];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  ip_address a;
  std::uint8_t v4[4];
  if (::inet_pton(AF_INET, buf, v4) == 1) return ip_address::v4({v4[0], v4[1], v4[2], v4[3]});
  if (::inet_pton(AF_INET6, buf, a.bytes.data()) == 1) return a;
  return std::nullopt;
}

ip_address ip_address::v4(std::array<std::uint8_t, 4> b) noexcept {
  ip_address a;
  a.bytes[10] = a.bytes[11] = 0xff;
  std::memcpy(a.bytes.data() + 12, b.data(), 4);
  return a;
}

bool ip_address::is_v4() const noexcept {
  static constexpr std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes.data(), prefix, 12) == 0;
}

std::string ip_address::to_string() const {
  char text[INET6_ADDRSTRLEN] = "";
  if (is_v4()) ::inet_ntop(AF_INET, bytes.data() + 12, text, sizeof text);
  else ::inet_ntop(AF_INET6, bytes.data(), text, sizeof text);
  return text;
}

result<cidr, std::string> cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto address = ip_address::parse(text.substr(0, slash));
  if (!address) return "not an IP address or CIDR block: '" + std::string(text) + "'";
  cidr c;
  c.base = *address;
  const unsigned width = address->is_v4() ? 32 : 128;
  unsigned prefix = width;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || prefix > width)
      return "bad prefix length in '" + std::string(text) + "' (0 to " + std::to_string(width) + ")";
  }
  c.prefix = address->is_v4() ? prefix + 96 : prefix;
  // Bits beyond the prefix do not matter; clear them so comparison is exact.
  for (unsigned bit = c.prefix; bit < 128; ++bit) c.base.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  return c;
}

bool cidr::contains(const ip_address& a) const noexcept {
  unsigned full = prefix / 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  unsigned rest = prefix % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff00u >> rest);
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

ip_address client_address(const ip_address& peer, std::string_view forwarded_for,
                          const std::vector<cidr>& trusted_proxies) {
  auto trusted = [&](const ip_address& a) {
    for (const auto& c : trusted_proxies)
      if (c.contains(a)) return true;
    return false;
  };
  if (!trusted(peer) || trim(forwarded_for).empty()) return peer;
  // Walk from the right: each hop appended the address it saw.
  ip_address client = peer;
  while (!forwarded_for.empty()) {
    auto comma = forwarded_for.rfind(',');
    auto hop = forwarded_for.substr(comma == std::string_view::npos ? 0 : comma + 1);
    forwarded_for = comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
    auto address = ip_address::parse(hop);
    if (!address) return peer;  // garbled: trust nothing it says
    client = *address;
    if (!trusted(client)) return client;
  }
  return client;  // every hop a proxy of ours: the leftmost is the best we know
}

}  // namespace sigkit::http
