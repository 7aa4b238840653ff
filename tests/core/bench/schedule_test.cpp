#include "sigkit/bench/schedule.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

using namespace std::chrono_literals;
using sigkit::bench::arrival_plan;
using sigkit::bench::arrival_schedule;
using sigkit::bench::classify_start;
using sigkit::bench::late_start_tally;
using sigkit::bench::load_model;
using std::chrono::nanoseconds;

namespace {

arrival_schedule made(const arrival_plan& plan) {
  auto schedule = arrival_schedule::make(plan);
  if (!schedule) FAIL("unexpected error: " << schedule.error().message);
  return schedule.value();
}

std::string error_for(const arrival_plan& plan) {
  auto schedule = arrival_schedule::make(plan);
  REQUIRE_FALSE(schedule.ok());
  return schedule.error().message;
}

nanoseconds start(const arrival_schedule& s, std::uint64_t peer) {
  const auto t = s.intended_start(peer);
  REQUIRE(t.has_value());
  return *t;
}

}  // namespace

TEST_CASE("a constant rate spaces starts evenly from zero", "[schedule]") {
  const auto s = made({.rate_per_s = 1000, .peers = 10'000});
  CHECK(s.model() == load_model::open);
  REQUIRE(s.planned_peers() == 10'000u);
  for (std::uint64_t i = 0; i < 10'000; ++i) REQUIRE(start(s, i) == nanoseconds(i * 1'000'000));
  CHECK_FALSE(s.intended_start(10'000).has_value());

  SECTION("a rate that does not divide a second: gaps differ by at most 1 ns") {
    const auto third = made({.rate_per_s = 3, .peers = 1000});
    for (std::uint64_t i = 1; i < 1000; ++i) {
      const auto gap = start(third, i) - start(third, i - 1);
      REQUIRE(gap >= 333'333'333ns);
      REQUIRE(gap <= 333'333'334ns);
    }
    CHECK(start(third, 999) == 333s);
  }
}

TEST_CASE("ramp-up rises linearly to the full rate", "[schedule]") {
  // 1000 peers/s after a 2 s ramp: 1000 peers arrive during the ramp
  // (N(T) = R T / 2), the rest 1 ms apart.
  const auto s = made({.rate_per_s = 1000, .ramp_up = 2s, .peers = 5000});
  REQUIRE(s.planned_peers() == 5000u);
  CHECK(start(s, 0) == 0ns);
  CHECK(start(s, 1000) == 2s);
  CHECK(start(s, 4999) == 2s + 3999ms);

  nanoseconds previous_gap = start(s, 1) - start(s, 0);
  for (std::uint64_t i = 1; i < 5000; ++i) {
    const auto gap = start(s, i) - start(s, i - 1);
    INFO("peer " << i);
    REQUIRE(gap >= 0ns);  // monotone
    // The rate only rises, so gaps only shrink (up to 1 ns of rounding),
    // and never below the full-rate spacing.
    REQUIRE(gap <= previous_gap + 1ns);
    REQUIRE(gap >= 1ms - 1ns);
    previous_gap = gap;
  }

  // N(1 s) = 1000 * 1^2 / (2 * 2) = 250, and peer 250 starts at exactly 1 s.
  CHECK(start(s, 250) == 1s);
  CHECK(s.due_by(1s) == 251);
  CHECK(s.due_by(1s - 1ns) == 250);
}

TEST_CASE("a duration bounds the run to the peers that arrive within it", "[schedule]") {
  SECTION("constant rate") {
    const auto s = made({.rate_per_s = 100, .duration = 1s});
    CHECK(s.planned_peers() == 100u);  // 0 .. 990 ms; the one at 1 s is past the end
    CHECK(start(s, 99) == 990ms);
  }
  SECTION("with ramp-up: R T / 2 + R (D - T)") {
    const auto s = made({.rate_per_s = 1000, .ramp_up = 2s, .duration = 10s});
    REQUIRE(s.planned_peers() == 9000u);
    CHECK(start(s, 8999) < 10s);
    CHECK_FALSE(s.intended_start(9000).has_value());
  }
  SECTION("ramp longer than the run") {
    // N(1 s) with T = 4 s, R = 800: 800 / 8 = 100 peers, the last just before 1 s.
    const auto s = made({.rate_per_s = 800, .ramp_up = 4s, .duration = 1s});
    CHECK(s.planned_peers() == 100u);
    CHECK(start(s, 99) < 1s);
  }
  SECTION("peers and duration: whichever ends first") {
    CHECK(made({.rate_per_s = 1000, .peers = 100, .duration = 10s}).planned_peers() == 100u);
    CHECK(made({.rate_per_s = 100, .peers = 1'000'000, .duration = 1s}).planned_peers() == 100u);
  }
  SECTION("zero duration starts nobody") {
    CHECK(made({.rate_per_s = 100, .duration = 0s}).planned_peers() == 0u);
  }
}

TEST_CASE("due_by agrees with intended_start", "[schedule]") {
  const auto s = made({.rate_per_s = 777.7, .ramp_up = 1500ms, .peers = 3000});
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<std::int64_t> when(0, 6'000'000'000);
  for (int trial = 0; trial < 300; ++trial) {
    const nanoseconds t{when(rng)};
    std::uint64_t brute_force = 0;
    for (std::uint64_t i = 0; i < 3000; ++i) if (start(s, i) <= t) ++brute_force;
    INFO("t = " << t.count() << " ns");
    REQUIRE(s.due_by(t) == brute_force);
  }
  CHECK(s.due_by(-1ns) == 0);
  CHECK(s.due_by(0ns) == 1);  // peer 0 is due at once
  CHECK(s.due_by(nanoseconds::max()) == 3000);
}

TEST_CASE("rate 0 is the closed model, with no intended times", "[schedule]") {
  const auto s = made({.rate_per_s = 0, .peers = 50});
  CHECK(s.model() == load_model::closed);
  CHECK(s.planned_peers() == 50u);
  CHECK_FALSE(s.intended_start(0).has_value());
  CHECK(s.due_by(10s) == 0);

  const auto by_time = made({.rate_per_s = 0, .duration = 30s});
  CHECK(by_time.model() == load_model::closed);
  CHECK_FALSE(by_time.planned_peers().has_value());
}

TEST_CASE("impossible plans are rejected with a reason", "[schedule]") {
  CHECK(error_for({.rate_per_s = -1, .peers = 10}).find("rate") != std::string::npos);
  CHECK(error_for({.rate_per_s = std::nan(""), .peers = 10}).find("rate") != std::string::npos);
  CHECK(error_for({.rate_per_s = std::numeric_limits<double>::infinity(), .peers = 10}).find("rate") !=
        std::string::npos);
  CHECK(error_for({.rate_per_s = 10, .ramp_up = -1s, .peers = 10}).find("ramp-up") != std::string::npos);
  CHECK(error_for({.rate_per_s = 10, .duration = -1s}).find("duration") != std::string::npos);
  CHECK(error_for({.rate_per_s = 10}).find("peers or a duration") != std::string::npos);
  CHECK(error_for({.rate_per_s = 1e12, .duration = 100'000s}).find("too many peers") != std::string::npos);
}

TEST_CASE("a start is late only beyond the bound", "[schedule]") {
  const auto on_time = classify_start(100ms, 100ms, 5ms);
  CHECK(on_time.lag == 0ns);
  CHECK_FALSE(on_time.late);

  const auto early = classify_start(100ms, 90ms, 5ms);  // cannot make a start late
  CHECK(early.lag == 0ns);
  CHECK_FALSE(early.late);

  CHECK_FALSE(classify_start(100ms, 105ms, 5ms).late);  // at the bound: not yet
  const auto behind = classify_start(100ms, 105ms + 1ns, 5ms);
  CHECK(behind.late);
  CHECK(behind.lag == 5ms + 1ns);

  late_start_tally a(5ms);
  late_start_tally b(5ms);
  a.observe(0ms, 1ms);
  a.observe(10ms, 30ms);
  b.observe(20ms, 21ms);
  b.observe(30ms, 130ms);
  b.observe(40ms, 39ms);
  a.merge(b);
  CHECK(a.starts() == 5);
  CHECK(a.late_starts() == 2);
  CHECK(a.worst_lag() == 100ms);
}
