#include "sigkit/http/origin_policy.hpp"

#include <catch2/catch.hpp>

using sigkit::http::origin_policy;

TEST_CASE("by default: no Origin, loopback and same-host origins pass") {
  origin_policy p;
  CHECK(p.allows(std::nullopt, "example.com:8080"));
  CHECK(p.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
  CHECK(p.allows("http://localhost:3000", "127.0.0.1:8080"));
  CHECK(p.allows("http://[::1]:8080", "[::1]:8080"));
  CHECK(p.allows("https://Signal.Example.com", "signal.example.com"));
  CHECK_FALSE(p.allows("https://evil.example", "signal.example.com"));
  CHECK_FALSE(p.allows("null", "127.0.0.1:8080"));
  CHECK_FALSE(p.allows("http://127.0.0.1.evil.example", "signal.example.com"));
}

TEST_CASE("an allow list admits exactly its origins; a star admits all") {
  origin_policy list({"https://app.example.com/"});
  CHECK(list.allows("https://app.example.com", "signal.example.com"));
  CHECK_FALSE(list.allows("http://localhost:3000", "signal.example.com"));
  CHECK(list.allows(std::nullopt, "x"));
  origin_policy any({"*"});
  CHECK(any.allows("https://anything.example", "x"));
}
