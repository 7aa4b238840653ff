#include "sigkit/http/response.hpp"

#include <catch2/catch.hpp>

#include "sigkit/http/query.hpp"

using namespace sigkit;

TEST_CASE("a response head carries the status, the length and the safety headers", "[http]") {
  auto r = http::text(503, "too many connections");
  r.headers.emplace_back("Retry-After", "5");
  r.close = true;
  auto h = http::head(r, r.body.size(), "sigserve/1.2.3");
  CHECK(h.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
  CHECK(h.find("\r\nServer: sigserve/1.2.3\r\n") != std::string::npos);
  CHECK(h.find("\r\nContent-Length: 21\r\n") != std::string::npos);
  CHECK(h.find("\r\nRetry-After: 5\r\n") != std::string::npos);
  CHECK(h.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(h.find("\r\nX-Content-Type-Options: nosniff\r\n") != std::string::npos);
  CHECK(h.substr(h.size() - 4) == "\r\n\r\n");
  CHECK(r.body == "too many connections\n");
}

TEST_CASE("only origin-form targets have a path", "[http]") {
  CHECK(http::target_path("/") == "/");
  CHECK(http::target_path("/ws?token=x") == "/ws");
  CHECK(http::target_path("/a/b?") == "/a/b");
  CHECK_FALSE(http::target_path("?x"));
  CHECK_FALSE(http::target_path(""));
  CHECK_FALSE(http::target_path("*"));
  CHECK_FALSE(http::target_path("http://example.org/"));
}

TEST_CASE("content types come from the extension", "[http]") {
  CHECK(http::mime_type("/srv/app/index.html") == "text/html; charset=utf-8");
  CHECK(http::mime_type("app.js") == "text/javascript");
  CHECK(http::mime_type("dir.v2/README") == "application/octet-stream");
  CHECK(http::mime_type("x.unknown") == "application/octet-stream");
}

TEST_CASE("query parameters are found and percent-decoded", "[http]") {
  using sigkit::http::query_parameter;
  CHECK(query_parameter("/ws?token=abc.def-ghi_j", "token") == "abc.def-ghi_j");
  CHECK(query_parameter("/ws?room=x&token=a%2Bb%3D", "token") == "a+b=");
  CHECK(query_parameter("/ws?token=a+b", "token") == "a b");
  CHECK(query_parameter("/ws?tok=1&token=2&token=3", "token") == "2");  // the first one
  CHECK(query_parameter("/ws?token", "token") == "");
  CHECK_FALSE(query_parameter("/ws", "token"));
  CHECK_FALSE(query_parameter("/ws?other=1", "token"));
  CHECK_FALSE(query_parameter("/ws?token=%zz", "token"));
  CHECK_FALSE(query_parameter("/ws?token=%4", "token"));
}
