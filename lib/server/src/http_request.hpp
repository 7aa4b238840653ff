// An HTTP/1.1 request head, parsed by Beast's parser (sans-I/O: bytes in,
// fields out) and reduced to what sigserve looks at. The only translation unit
// of the server that includes Beast.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::server {

struct http_request {
  std::string method;
  std::string target;
  unsigned version = 11;  // 10 or 11
  bool keep_alive = true;
  bool has_body = false;  // Content-Length > 0 or chunked
  std::string host;
  std::optional<std::string> origin;
  std::string connection;  // the raw header values the upgrade checks read
  std::string upgrade;
  std::string websocket_key;
  std::string websocket_version;
  std::string forwarded_for;  // X-Forwarded-For, read only behind a trusted proxy
  std::string authorization;  // "Bearer <token>" (never logged)
};

inline constexpr std::size_t max_request_head = 16 * 1024;

// Where the head ends (just past the blank line), searching from `from`
// (bytes before it were searched already), or nullopt if it has not arrived.
std::optional<std::size_t> find_head_end(std::string_view bytes, std::size_t from) noexcept;

// Parses a complete head; the error says what is wrong, for a 400 body.
result<http_request, std::string> parse_request_head(std::string_view head);

}  // namespace sigkit::server
