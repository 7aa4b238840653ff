// STUN/TURN URI table (RFC 7064, RFC 7065).
#include "sigkit/stun/uri.hpp"

#include <catch2/catch.hpp>

using namespace sigkit::stun;

TEST_CASE("valid STUN and TURN URIs", "[stun][uri]") {
  struct row {
    const char* text;
    uri_scheme scheme;
    const char* host;
    host_kind kind;
    std::uint16_t port;
    uri_transport transport;
    const char* canonical;
  };
  const row rows[] = {
      {"stun:stun.example.org", uri_scheme::stun, "stun.example.org", host_kind::name, 3478, uri_transport::udp,
       "stun:stun.example.org"},
      {"stun:192.0.2.1:19302", uri_scheme::stun, "192.0.2.1", host_kind::ipv4, 19302, uri_transport::udp,
       "stun:192.0.2.1:19302"},
      {"stuns:stun.example.org", uri_scheme::stuns, "stun.example.org", host_kind::name, 5349, uri_transport::tcp,
       "stuns:stun.example.org"},
      {"stun:[2001:DB8::1]", uri_scheme::stun, "2001:db8::1", host_kind::ipv6, 3478, uri_transport::udp,
       "stun:[2001:db8::1]"},
      {"stun:[::1]:3479", uri_scheme::stun, "::1", host_kind::ipv6, 3479, uri_transport::udp, "stun:[::1]:3479"},
      {"turn:turn.example.org", uri_scheme::turn, "turn.example.org", host_kind::name, 3478, uri_transport::udp,
       "turn:turn.example.org"},
      {"turn:turn.example.org?transport=tcp", uri_scheme::turn, "turn.example.org", host_kind::name, 3478,
       uri_transport::tcp, "turn:turn.example.org?transport=tcp"},
      {"turn:203.0.113.5:443?transport=udp", uri_scheme::turn, "203.0.113.5", host_kind::ipv4, 443,
       uri_transport::udp, "turn:203.0.113.5:443?transport=udp"},
      {"turns:turn.example.org:443?transport=tcp", uri_scheme::turns, "turn.example.org", host_kind::name, 443,
       uri_transport::tcp, "turns:turn.example.org:443?transport=tcp"},
      {"turns:[2001:db8::2]", uri_scheme::turns, "2001:db8::2", host_kind::ipv6, 5349, uri_transport::tcp,
       "turns:[2001:db8::2]"},
      {"TURN:Turn.Example.ORG?TRANSPORT=TCP", uri_scheme::turn, "turn.example.org", host_kind::name, 3478,
       uri_transport::tcp, "turn:turn.example.org?transport=tcp"},
      {"stun:localhost:1", uri_scheme::stun, "localhost", host_kind::name, 1, uri_transport::udp, "stun:localhost:1"},
      {"stun:stun.l.google.com:19302", uri_scheme::stun, "stun.l.google.com", host_kind::name, 19302,
       uri_transport::udp, "stun:stun.l.google.com:19302"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    const auto u = parse_uri(r.text);
    REQUIRE(u.ok());
    CHECK(u->scheme_ == r.scheme);
    CHECK(u->host_ == r.host);
    CHECK(u->host_kind_ == r.kind);
    CHECK(u->port_ == r.port);
    CHECK(u->transport_ == r.transport);
    CHECK(u->to_string() == r.canonical);
    CHECK(parse_uri(u->to_string()).value() == *u);
  }
  CHECK(parse_uri("turns:t.example").value().secure());
  CHECK(parse_uri("turn:t.example").value().is_turn());
  CHECK_FALSE(parse_uri("stun:t.example").value().is_turn());
}

TEST_CASE("bad URIs say what is wrong", "[stun][uri]") {
  struct row {
    const char* text;
    const char* error;
  };
  const row rows[] = {
      {"", "empty URI: expected stun:, stuns:, turn: or turns:"},
      {"stun:", "'stun:': missing host"},
      {"turn:?transport=udp", "'turn:?transport=udp': missing host"},
      {"stun.example.org", "'stun.example.org': missing scheme (expected stun:, stuns:, turn: or turns:)"},
      {"http://example.org", "'http://example.org': unknown scheme 'http' (expected stun, stuns, turn or turns)"},
      {"stun://stun.example.org", "'stun://stun.example.org': STUN/TURN URIs have no '//' (RFC 7064): write stun:stun.example.org"},
      {"stun:host:", "'stun:host:': empty port after ':'"},
      {"stun:host:0", "'stun:host:0': port '0' out of range (1-65535)"},
      {"stun:host:65536", "'stun:host:65536': port '65536' out of range (1-65535)"},
      {"stun:host:99999999999999999999", "'stun:host:99999999999999999999': port '99999999999999999999' out of range (1-65535)"},
      {"stun:host:34a", "'stun:host:34a': bad port '34a' (digits only)"},
      {"stun:host:-1", "'stun:host:-1': bad port '-1' (digits only)"},
      {"stun:host?transport=udp", "'stun:host?transport=udp': stun: URIs take no query; ?transport= is only for turn: and turns: (RFC 7064)"},
      {"stuns:host?transport=tcp", "'stuns:host?transport=tcp': stuns: URIs take no query; ?transport= is only for turn: and turns: (RFC 7064)"},
      {"turns:host?transport=udp", "'turns:host?transport=udp': turns: with transport=udp (TURN over DTLS) is not supported; use turns:...?transport=tcp or turn:...?transport=udp"},
      {"turn:host?transport=sctp", "'turn:host?transport=sctp': unsupported transport 'sctp' (expected udp or tcp)"},
      {"turn:host?transport=", "'turn:host?transport=': empty transport (expected udp or tcp)"},
      {"turn:host?proto=udp", "'turn:host?proto=udp': unknown query 'proto=udp' (only ?transport=udp or ?transport=tcp)"},
      {"turn:user@host", "'turn:user@host': user info ('user@') is not allowed in STUN/TURN URIs; pass the username separately"},
      {"stun:2001:db8::1", "'stun:2001:db8::1': IPv6 addresses need brackets, e.g. stun:[2001:db8::1]:3478"},
      {"stun:[2001:db8::1", "'stun:[2001:db8::1': missing ']' after IPv6 address"},
      {"stun:[]", "'stun:[]': missing host (empty brackets)"},
      {"stun:[example.org]", "'stun:[example.org]': 'example.org' is not an IPv6 address"},
      {"stun:[::1]x", "'stun:[::1]x': unexpected 'x' after ']'"},
      {"stun:[fe80::1%25eth0]", "'stun:[fe80::1%25eth0]': IPv6 zone ids are not supported"},
      {"stun:192.0.2.300", "'stun:192.0.2.300': '192.0.2.300' is not an IPv4 address"},
      {"stun:exa mple.org", "'stun:exa mple.org': invalid character ' ' in host"},
      {"stun:host/path", "'stun:host/path': STUN/TURN URIs have no path"},
      {" stun:host", "' stun:host': leading or trailing whitespace"},
      {"stun:a..b", "'stun:a..b': 'a..b' is not a valid host name"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    const auto u = parse_uri(r.text);
    REQUIRE_FALSE(u.ok());
    CHECK(u.error() == r.error);
  }
  // Hostile input is bounded and never echoed raw.
  CHECK(parse_uri(std::string(5000, 'a')).error().size() < 200);
  CHECK(parse_uri("stun:\x1b[31mred").error().find('\x1b') == std::string::npos);
}
