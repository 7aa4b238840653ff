#include "sigkit/redis/endpoint.hpp"

#include <charconv>
#include <limits>

namespace sigkit::redis {

namespace {

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.1: %XX is the byte XX.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_digit(in[i + 1]);
    const int lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi << 4 | lo));
    i += 2;
  }
  return true;
}

template <class Int>
bool parse_number(std::string_view s, Int& out) {
  if (s.empty()) return false;
  for (const char c : s)
    if (c < '0' || c > '9') return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string endpoint::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (tls ? "rediss://" : "redis://") + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" + std::to_string(db);
}

result<endpoint, std::string> parse_url(std::string_view url) {
  endpoint e;
  e.tls = starts_with_ci(url, "rediss://");
  if (!e.tls && !starts_with_ci(url, "redis://"))
    return std::string("not a redis:// URL: redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]");
  std::string_view rest = url.substr(e.tls ? 9 : 8);
  if (rest.find_first_of("?#") != std::string_view::npos)
    return std::string("a redis:// URL takes no query or fragment");

  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  const std::string_view path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  // The password may hold '@' only percent-encoded, but be lenient: the last
  // '@' ends the user information.
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    authority.remove_prefix(at + 1);
    const std::size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos)
      return std::string("a user needs a password: redis://:PASSWORD@HOST or redis://USER:PASSWORD@HOST");
    if (!percent_decode(userinfo.substr(0, colon), e.user) || !percent_decode(userinfo.substr(colon + 1), e.password))
      return std::string("bad percent-encoding in the user or password");
    if (e.password.empty()) return std::string("empty password in the URL");
  }

  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::string("unclosed '[' in the host");
    e.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::string("unexpected text after the IPv6 address");
      port = after.substr(1);
      if (port.empty()) return std::string("empty port");
    }
  } else {
    const std::size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return std::string("empty port");
    }
  }
  if (e.host.empty()) return std::string("no host in the URL");
  if (!port.empty()) {
    unsigned n = 0;
    if (!parse_number(port, n) || n == 0 || n > 65535) return "bad port '" + std::string(port) + "'";
    e.port = static_cast<std::uint16_t>(n);
  }
  if (!path.empty() && !parse_number(path, e.db))
    return "bad database number '" + std::string(path) + "' (redis://HOST:PORT/DB)";
  return e;
}

}  // namespace sigkit::redis
