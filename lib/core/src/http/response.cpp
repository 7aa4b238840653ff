#include "sigkit/http/response.hpp"

#include <array>

namespace sigkit::http {

response text(int status, std::string_view message) {
  response r;
  r.status = status;
  r.body = std::string(message) + "\n";
  return r;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string head(const response& r, std::size_t content_length, std::string_view server) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(r.status);
  out += ' ';
  out += reason_phrase(r.status);
  out += "\r\nServer: ";
  out += server;
  out += "\r\nContent-Type: ";
  out += r.content_type;
  out += "\r\nContent-Length: ";
  out += std::to_string(content_length);
  out += "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n";
  if (r.close) out += "Connection: close\r\n";
  for (const auto& [name, value] : r.headers) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += "\r\n";
  return out;
}

std::optional<std::string_view> target_path(std::string_view target) noexcept {
  if (target.empty() || target.front() != '/') return std::nullopt;
  return target.substr(0, target.find('?'));
}

std::string_view mime_type(std::string_view file_name) noexcept {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 13> types{{
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript"},           {".mjs", "text/javascript"},
      {".css", "text/css"},                 {".json", "application/json"},
      {".svg", "image/svg+xml"},            {".png", "image/png"},
      {".jpg", "image/jpeg"},               {".jpeg", "image/jpeg"},
      {".ico", "image/x-icon"},             {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"},
  }};
  auto slash = file_name.rfind('/');
  auto base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  auto dot = base.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  auto ext = base.substr(dot);
  for (const auto& [e, type] : types)
    if (e == ext) return type;
  return "application/octet-stream";
}

}  // namespace sigkit::http
