// STUN and TURN URIs (RFC 7064, RFC 7065), as found in RTCIceServer.urls:
//
//   stunURI = ("stun" / "stuns") ":" host [ ":" port ]
//   turnURI = ("turn" / "turns") ":" host [ ":" port ] [ "?transport=" transport ]
//
// host is an IP literal in brackets, an IPv4 address or a registered name
// (RFC 3986 §3.2.2). There is no "//" and no userinfo.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::stun {

enum class uri_scheme { stun, stuns, turn, turns };
// The transport the first hop uses: stuns/turns run over TLS on TCP.
enum class uri_transport { udp, tcp };

inline constexpr std::uint16_t default_port = 3478;      // RFC 8489 §6.2.1 (UDP, TCP)
inline constexpr std::uint16_t default_tls_port = 5349;  // RFC 8489 §6.2.3 (TLS)

enum class host_kind { name, ipv4, ipv6 };

struct uri {
  uri_scheme scheme_ = uri_scheme::stun;
  std::string host_;  // without brackets; lower-cased if a name
  host_kind host_kind_ = host_kind::name;
  std::uint16_t port_ = default_port;  // the default filled in if absent
  bool port_given_ = false;
  uri_transport transport_ = uri_transport::udp;  // default filled in per scheme
  bool transport_given_ = false;

  bool secure() const noexcept { return scheme_ == uri_scheme::stuns || scheme_ == uri_scheme::turns; }
  bool is_turn() const noexcept { return scheme_ == uri_scheme::turn || scheme_ == uri_scheme::turns; }
  // Canonical text: "turn:[2001:db8::1]:3478?transport=tcp". Port and
  // transport appear only if they were given.
  std::string to_string() const;

  friend bool operator==(const uri&, const uri&) = default;
};

std::string_view to_string(uri_scheme s) noexcept;
std::string_view to_string(uri_transport t) noexcept;

// Errors are one line meant for a person: "stun:: missing host".
result<uri, std::string> parse_uri(std::string_view text);

}  // namespace sigkit::stun
