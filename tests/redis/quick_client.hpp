// What the tests of sigkit::redis share: client options small enough that
// every failure shows in a fraction of a second, and an endpoint that must
// parse.
#pragma once

#include <chrono>
#include <string>

#include <catch2/catch.hpp>

#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/options.hpp"

namespace sigkit::test {

inline redis::options quick() {
  using namespace std::chrono_literals;
  redis::options o;
  o.connect_timeout = 500ms;
  o.command_timeout = 300ms;
  o.backoff_initial = 20ms;
  o.backoff_max = 200ms;
  o.idle_ping = 0ms;  // the tests that want it set it
  return o;
}

inline redis::endpoint endpoint_of(const std::string& url) {
  auto e = redis::parse_url(url);
  INFO(url);
  REQUIRE(e);
  return e.value();
}

}  // namespace sigkit::test
