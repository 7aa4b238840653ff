// Small pure pieces: durations, peer ids, the rate limit.
#include "sigkit/duration.hpp"

#include <set>

#include <catch2/catch.hpp>

#include "sigkit/peer_id.hpp"
#include "sigkit/rate_limit.hpp"

using namespace std::chrono;

TEST_CASE("durations parse with units; bare numbers use the given unit") {
  CHECK(sigkit::parse_duration("25s") == seconds(25));
  CHECK(sigkit::parse_duration("500ms") == milliseconds(500));
  CHECK(sigkit::parse_duration("1.5s") == milliseconds(1500));
  CHECK(sigkit::parse_duration("2m") == minutes(2));
  CHECK(sigkit::parse_duration("100us") == microseconds(100));
  CHECK(sigkit::parse_duration("10") == seconds(10));
  CHECK(sigkit::parse_duration("10", milliseconds(1)) == milliseconds(10));
  for (auto bad : {"", "s", "-1s", "5x", "1 s", "ms5", "+3s"}) {
    INFO(bad);
    CHECK_FALSE(sigkit::parse_duration(bad));
  }
}

TEST_CASE("peer ids are 12 URL-safe characters and do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = sigkit::random_peer_id();
    REQUIRE(id.size() == 12);
    REQUIRE(id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
            std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}

TEST_CASE("the token bucket allows a burst, then the rate") {
  const sigkit::rate_policy policy{10, 5};
  const std::uint32_t t0 = 4'294'967'000u;  // close to the wrap of the millisecond clock
  sigkit::token_bucket bucket;
  bucket.start(policy, t0);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) allowed += bucket.try_take(policy, t0);
  CHECK(allowed == 5);
  CHECK(bucket.try_take(policy, t0 + 100));  // wraps past zero: still 100 ms
  CHECK_FALSE(bucket.try_take(policy, t0 + 110));
  CHECK(bucket.try_take(policy, t0 + 10'000));  // refilled, but never above the burst
  for (int i = 0; i < 4; ++i) CHECK(bucket.try_take(policy, t0 + 10'000));
  CHECK_FALSE(bucket.try_take(policy, t0 + 10'000));
  const sigkit::rate_policy off{0, 1};
  sigkit::token_bucket unlimited;
  unlimited.start(off, t0);
  for (int i = 0; i < 1000; ++i) REQUIRE(unlimited.try_take(off, t0));
}
