#include "http_request.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

namespace sigkit::server {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::optional<std::size_t> find_head_end(std::string_view bytes, std::size_t from) noexcept {
  // Step back so a CRLFCRLF split across two reads is still found.
  from = from > 3 ? from - 3 : 0;
  auto at = bytes.find("\r\n\r\n", from);
  if (at == std::string_view::npos) return std::nullopt;
  return at + 4;
}

result<http_request, std::string> parse_request_head(std::string_view head) {
  bhttp::request_parser<bhttp::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(max_request_head));
  parser.eager(false);
  beast::error_code ec;
  parser.put(boost::asio::buffer(head.data(), head.size()), ec);
  if (ec && ec != bhttp::error::need_more) return ec.message();
  if (!parser.is_header_done()) return std::string("incomplete request head");
  const auto& req = parser.get();
  http_request r;
  r.method = std::string(req.method_string());
  r.target = std::string(req.target());
  r.version = req.version();
  r.keep_alive = req.keep_alive();
  r.has_body = parser.chunked() || (parser.content_length() && *parser.content_length() > 0);
  r.host = std::string(req[bhttp::field::host]);
  if (auto it = req.find(bhttp::field::origin); it != req.end()) r.origin = std::string(it->value());
  r.connection = std::string(req[bhttp::field::connection]);
  r.upgrade = std::string(req[bhttp::field::upgrade]);
  r.websocket_key = std::string(req[bhttp::field::sec_websocket_key]);
  r.websocket_version = std::string(req[bhttp::field::sec_websocket_version]);
  r.forwarded_for = std::string(req["X-Forwarded-For"]);
  r.authorization = std::string(req[bhttp::field::authorization]);
  return r;
}

}  // namespace sigkit::server
