// The plain HTTP side of sigserve as text: request targets, status lines,
// response heads. Pure; the server writes the bytes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sigkit::http {

struct response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond the ones every response gets
  bool close = false;                                          // send Connection: close, then close
};

// A short text answer: the message and a newline.
response text(int status, std::string_view message);

std::string_view reason_phrase(int status) noexcept;

// The status line and headers (RFC 9112 §4, §6): Server, Content-Type,
// Content-Length, Cache-Control: no-store, X-Content-Type-Options: nosniff,
// Connection: close when asked, the response's own headers, and the blank
// line. The body is not included, so a large one can be sent from where it is.
std::string head(const response& r, std::size_t content_length, std::string_view server);

// The path of an origin-form request target (RFC 9112 §3.2.1: "/" and
// onwards, up to any "?"), or nullopt for anything else ("?x", "*",
// "http://host/...").
std::optional<std::string_view> target_path(std::string_view target) noexcept;

// The Content-Type for a file name, by extension; application/octet-stream
// when unknown.
std::string_view mime_type(std::string_view file_name) noexcept;

}  // namespace sigkit::http
