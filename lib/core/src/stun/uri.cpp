// STUN/TURN URI parsing (RFC 7064 §3.1, RFC 7065 §3.1). The errors are the
// product here: a probe's first job is to say exactly what is wrong with
// the URI a user pasted from their RTCIceServer config.
#include "sigkit/stun/uri.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace sigkit::stun {

std::string_view to_string(uri_scheme s) noexcept {
  switch (s) {
    case uri_scheme::stun: return "stun";
    case uri_scheme::stuns: return "stuns";
    case uri_scheme::turn: return "turn";
    case uri_scheme::turns: return "turns";
  }
  return "?";
}

std::string_view to_string(uri_transport t) noexcept { return t == uri_transport::udp ? "udp" : "tcp"; }

std::string uri::to_string() const {
  std::string out(stun::to_string(scheme_));
  out += ':';
  out += host_kind_ == host_kind::ipv6 ? "[" + host_ + "]" : host_;
  if (port_given_) out += ":" + std::to_string(port_);
  if (transport_given_) out += "?transport=" + std::string(stun::to_string(transport_));
  return out;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Quote user text in an error without letting control bytes or a 1 MB
// paste through to the terminal.
std::string quoted(std::string_view s) {
  std::string out = "'";
  for (const char ch : s.substr(0, 80)) {
    const auto c = static_cast<unsigned char>(ch);
    out += (c >= 0x20 && c < 0x7F) ? ch : '?';
  }
  if (s.size() > 80) out += "...";
  return out + "'";
}

bool is_name_char(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return std::isalnum(c) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

}  // namespace

result<uri, std::string> parse_uri(std::string_view text) {
  const std::string in = quoted(text);
  if (text.empty()) return std::string("empty URI: expected stun:, stuns:, turn: or turns:");
  if (text.size() > 1024) return in + ": too long to be a STUN/TURN URI";
  if (std::isspace(static_cast<unsigned char>(text.front())) || std::isspace(static_cast<unsigned char>(text.back())))
    return in + ": leading or trailing whitespace";

  uri u;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return in + ": missing scheme (expected stun:, stuns:, turn: or turns:)";
  // RFC 3986 §3.1: schemes are case-insensitive.
  const std::string scheme = lower(text.substr(0, colon));
  if (scheme == "stun") u.scheme_ = uri_scheme::stun;
  else if (scheme == "stuns") u.scheme_ = uri_scheme::stuns;
  else if (scheme == "turn") u.scheme_ = uri_scheme::turn;
  else if (scheme == "turns") u.scheme_ = uri_scheme::turns;
  else return in + ": unknown scheme " + quoted(scheme) + " (expected stun, stuns, turn or turns)";

  std::string_view rest = text.substr(colon + 1);
  if (rest.substr(0, 2) == "//")
    return in + ": STUN/TURN URIs have no '//' (RFC 7064): write " + scheme + ":" + std::string(rest.substr(2));

  // Query: RFC 7065 defines exactly one parameter, and only for TURN.
  std::string_view query;
  bool has_query = false;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    has_query = true;
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (!u.is_turn())
      return in + ": " + scheme + ": URIs take no query; ?transport= is only for turn: and turns: (RFC 7064)";
  }
  if (rest.find('@') != std::string_view::npos)
    return in + ": user info ('user@') is not allowed in STUN/TURN URIs; pass the username separately";
  if (rest.find('/') != std::string_view::npos) return in + ": STUN/TURN URIs have no path";

  // Host: "[v6]", IPv4 or a name, then an optional ":port".
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return in + ": missing ']' after IPv6 address";
    host = rest.substr(1, close - 1);
    const auto after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return in + ": unexpected " + quoted(after) + " after ']'";
      has_port = true;
      port_text = after.substr(1);
    }
    if (host.empty()) return in + ": missing host (empty brackets)";
    if (host.find('%') != std::string_view::npos) return in + ": IPv6 zone ids are not supported";
    std::array<unsigned char, 16> buf{};
    const std::string h(host);
    if (inet_pton(AF_INET6, h.c_str(), buf.data()) != 1) return in + ": " + quoted(host) + " is not an IPv6 address";
    u.host_kind_ = host_kind::ipv6;
    u.host_ = lower(host);
  } else {
    const auto c = rest.find(':');
    if (c != std::string_view::npos && rest.find(':', c + 1) != std::string_view::npos)
      return in + ": IPv6 addresses need brackets, e.g. " + scheme + ":[2001:db8::1]:3478";
    host = rest.substr(0, c);
    if (c != std::string_view::npos) {
      has_port = true;
      port_text = rest.substr(c + 1);
    }
    if (host.empty()) return in + ": missing host";
    for (const char ch : host)
      if (!is_name_char(ch)) return in + ": invalid character " + quoted(std::string_view(&ch, 1)) + " in host";
    if (host.size() > 253) return in + ": host name longer than 253 characters";
    if (host.front() == '.' || host.find("..") != std::string_view::npos || host.front() == '-')
      return in + ": " + quoted(host) + " is not a valid host name";
    const bool numeric = std::all_of(host.begin(), host.end(), [](char ch) { return ch == '.' || (ch >= '0' && ch <= '9'); });
    if (numeric) {
      std::array<unsigned char, 4> buf{};
      const std::string h(host);
      if (inet_pton(AF_INET, h.c_str(), buf.data()) != 1) return in + ": " + quoted(host) + " is not an IPv4 address";
      u.host_kind_ = host_kind::ipv4;
    }
    u.host_ = lower(host);
  }

  u.port_ = u.secure() ? default_tls_port : default_port;
  if (has_port) {
    if (port_text.empty()) return in + ": empty port after ':'";
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec == std::errc::result_out_of_range || (ec == std::errc{} && end == port_text.data() + port_text.size() && (port == 0 || port > 65535)))
      return in + ": port " + quoted(port_text) + " out of range (1-65535)";
    if (ec != std::errc{} || end != port_text.data() + port_text.size())
      return in + ": bad port " + quoted(port_text) + " (digits only)";
    u.port_ = static_cast<std::uint16_t>(port);
    u.port_given_ = true;
  }

  u.transport_ = u.secure() ? uri_transport::tcp : uri_transport::udp;
  if (!has_query) return u;
  constexpr std::string_view key = "transport=";
  if (lower(query.substr(0, key.size())) != key)
    return in + ": unknown query " + quoted(query) + " (only ?transport=udp or ?transport=tcp)";
  const std::string value = lower(query.substr(key.size()));
  if (value == "udp") {
    if (u.scheme_ == uri_scheme::turns)
      return in + ": turns: with transport=udp (TURN over DTLS) is not supported; use turns:...?transport=tcp or turn:...?transport=udp";
    u.transport_ = uri_transport::udp;
  } else if (value == "tcp") {
    u.transport_ = uri_transport::tcp;
  } else if (value.empty()) {
    return in + ": empty transport (expected udp or tcp)";
  } else {
    return in + ": unsupported transport " + quoted(value) + " (expected udp or tcp)";
  }
  u.transport_given_ = true;
  return u;
}

}  // namespace sigkit::stun
