#include "sigkit/bench/capacity.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <sstream>
#include <string>

using Catch::Matchers::Contains;
using sigkit::bench::capacity_result;
using sigkit::bench::capacity_search;
using sigkit::bench::capacity_step;
using sigkit::bench::parse_threshold;
using sigkit::bench::threshold;
using json = nlohmann::json;

namespace {

threshold condition(std::string_view expr) {
  auto t = parse_threshold(expr);
  INFO("expression: " << expr);
  if (!t) FAIL("unexpected error: " << t.error().message);
  return t.value();
}

capacity_step held_at(double rate, double observed) {
  capacity_step s;
  s.rate = rate;
  s.join_rate = rate * 0.99;
  s.observed = observed;
  s.held = true;
  return s;
}

capacity_step broke_at(double rate, double observed, std::string broke) {
  capacity_step s = held_at(rate, observed);
  s.held = false;
  s.broke = std::move(broke);
  return s;
}

capacity_step saturated_at(double rate) {
  capacity_step s;
  s.rate = rate;
  s.join_rate = rate / 2;
  s.saturated = true;
  return s;
}

// Runs the search as the engine does: each step at next_rate(), its outcome
// given by `outcome(rate)`, until the search is done.
template <class Outcome>
void run(capacity_search& search, Outcome outcome, std::size_t limit = 1000) {
  for (std::size_t i = 0; i < limit && !search.done(); ++i) search.record(outcome(search.next_rate()));
  REQUIRE(search.done());
}

std::string text_of(const capacity_result& c) {
  std::ostringstream out;
  write_text(out, c);
  return out.str();
}

}  // namespace

TEST_CASE("capacity search steps the rate from start by step", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 200, 400);
  CHECK_FALSE(search.done());
  CHECK(search.next_rate() == 200);
  search.record(held_at(200, 3.0));
  CHECK(search.next_rate() == 600);
  search.record(held_at(600, 8.0));
  CHECK(search.next_rate() == 1000);
  search.record(held_at(1000, 21.0));
  CHECK(search.next_rate() == 1400);
  CHECK_FALSE(search.done());
  CHECK(search.result().highest_rate == 1000.0);
  CHECK(search.result().condition == "join.p99<50ms");
  CHECK(search.result().unit == "ms");
  CHECK(search.condition().metric == "join.p99");
}

TEST_CASE("capacity search stops at the first step that did not hold", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 200, 400);
  run(search, [](double rate) {
    return rate < 1600 ? held_at(rate, rate / 100) : broke_at(rate, 61.2, "join.p99<50ms (observed 61.200 ms)");
  });
  const auto& r = search.result();
  REQUIRE(r.steps.size() == 5);  // 200 600 1000 1400 held; 1800 broke
  CHECK(r.steps.back().rate == 1800);
  CHECK_FALSE(r.steps.back().held);
  REQUIRE(r.highest_rate.has_value());
  CHECK(*r.highest_rate == 1400);
  CHECK_THAT(r.ended, Contains("join.p99<50ms (observed 61.200 ms)"));
  CHECK_THAT(r.ended, Contains("1800/s"));

  // A step after the end changes nothing.
  search.record(held_at(2200, 1.0));
  search.stop("interrupted");
  CHECK(search.result().steps.size() == 5);
  CHECK(*search.result().highest_rate == 1400);
  CHECK_THAT(search.result().ended, Contains("1800/s"));
}

TEST_CASE("capacity search has no answer when the first step fails", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 500, 500);
  search.record(broke_at(500, 80.0, "join.p99<50ms (observed 80.000 ms)"));
  CHECK(search.done());
  CHECK_FALSE(search.result().highest_rate.has_value());
  CHECK(search.result().steps.size() == 1);
  CHECK_THAT(search.result().ended, Contains("500/s"));
}

TEST_CASE("a failing default rule ends the search like the condition", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 100, 100);
  search.record(held_at(100, 2.0));
  // The condition held, but peers failed.
  search.record(broke_at(200, 4.0, "failed==0 (default) (observed 3)"));
  CHECK(search.done());
  CHECK(search.result().highest_rate == 100.0);
  CHECK_THAT(search.result().ended, Contains("failed==0"));
}

TEST_CASE("capacity search stops when the generator saturates", "[bench][capacity]") {
  SECTION("after some rates held") {
    capacity_search search(condition("join.p99<50ms"), 1000, 1000);
    run(search, [](double rate) { return rate < 3000 ? held_at(rate, 5.0) : saturated_at(rate); });
    const auto& r = search.result();
    REQUIRE(r.steps.size() == 3);
    CHECK(r.steps.back().saturated);
    CHECK(r.highest_rate == 2000.0);
    CHECK_THAT(r.ended, Contains("saturated at 3000/s"));
    CHECK_THAT(r.ended, Contains("at least 2000/s"));
  }
  SECTION("before any rate held") {
    capacity_search search(condition("join.p99<50ms"), 1000, 1000);
    search.record(saturated_at(1000));
    CHECK(search.done());
    CHECK_FALSE(search.result().highest_rate.has_value());
    CHECK_THAT(search.result().ended, Contains("saturated at 1000/s"));
    CHECK_THAT(search.result().ended, Contains("before any rate held"));
  }
  SECTION("a saturated step that also broke proves nothing either") {
    capacity_search search(condition("join.p99<50ms"), 1000, 1000);
    search.record(held_at(1000, 5.0));
    capacity_step s = broke_at(2000, 90.0, "join.p99<50ms (observed 90.000 ms)");
    s.saturated = true;
    search.record(s);
    CHECK(search.done());
    CHECK(search.result().highest_rate == 1000.0);
    CHECK_THAT(search.result().ended, Contains("saturated"));
  }
}

TEST_CASE("capacity search stops after max_steps", "[bench][capacity]") {
  capacity_search search(condition("join_rate>=10"), 100, 50, 3);
  run(search, [](double rate) { return held_at(rate, rate); });
  const auto& r = search.result();
  CHECK(r.steps.size() == 3);
  CHECK(r.highest_rate == 200.0);  // 100 150 200
  CHECK_THAT(r.ended, Contains("still holding after 3 steps"));
  CHECK(r.unit.empty());
}

TEST_CASE("capacity search can be stopped from outside", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 100, 100);
  search.record(held_at(100, 1.0));
  search.record(held_at(200, 2.0));
  search.stop("interrupted (SIGINT)");
  CHECK(search.done());
  CHECK(search.result().ended == "interrupted (SIGINT)");
  CHECK(search.result().highest_rate == 200.0);
  search.record(held_at(300, 3.0));
  search.stop("again");
  CHECK(search.result().steps.size() == 2);
  CHECK(search.result().ended == "interrupted (SIGINT)");

  capacity_search early(condition("join.p99<50ms"), 100, 100);
  early.stop("the target is unreachable");
  CHECK(early.done());
  CHECK_FALSE(early.result().highest_rate.has_value());
  CHECK(early.result().steps.empty());
}

TEST_CASE("fractional rates are written with their fraction", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 0.5, 0.5);
  search.record(held_at(0.5, 1.0));
  CHECK(search.next_rate() == 1.0);
  search.record(held_at(1.0, 1.0));
  search.record(broke_at(1.5, 60.0, "join.p99<50ms (observed 60.000 ms)"));
  CHECK_THAT(search.result().ended, Contains("1.5/s"));
  CHECK_THAT(text_of(search.result()), Contains("held up to 1/s"));
}

TEST_CASE("the capacity result as JSON holds the rates and the verdict", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 200, 400);
  search.record(held_at(200, 3.5));
  capacity_step unmeasured = held_at(600, 0);
  unmeasured.observed.reset();
  search.record(unmeasured);
  search.record(broke_at(1000, 61.25, "join.p99<50ms (observed 61.250 ms)"));
  const json j = to_json(search.result());
  CHECK(j["condition"] == "join.p99<50ms");
  CHECK(j["unit"] == "ms");
  CHECK(j["highest_rate"] == 600.0);
  CHECK(j["ended"] == search.result().ended);
  REQUIRE(j["steps"].is_array());
  REQUIRE(j["steps"].size() == 3);
  CHECK(j["steps"][0]["rate"] == 200.0);
  CHECK(j["steps"][0]["join_rate"].get<double>() == Approx(198.0));
  CHECK(j["steps"][0]["observed"] == 3.5);
  CHECK(j["steps"][0]["held"] == true);
  CHECK(j["steps"][0]["saturated"] == false);
  CHECK_FALSE(j["steps"][0].contains("broke"));
  CHECK(j["steps"][1]["observed"].is_null());
  CHECK(j["steps"][2]["held"] == false);
  CHECK(j["steps"][2]["broke"] == "join.p99<50ms (observed 61.250 ms)");

  capacity_search none(condition("join.p99<50ms"), 200, 400);
  none.record(saturated_at(200));
  const json n = to_json(none.result());
  CHECK(n["highest_rate"].is_null());
  CHECK(n["steps"][0]["saturated"] == true);
}

TEST_CASE("the capacity result as text holds the curve and the verdict", "[bench][capacity]") {
  capacity_search search(condition("join.p99<50ms"), 200, 400);
  search.record(held_at(200, 3.5));
  capacity_step unmeasured = held_at(600, 0);
  unmeasured.observed.reset();
  search.record(unmeasured);
  search.record(broke_at(1000, 61.25, "join.p99<50ms (observed 61.250 ms)"));
  const std::string text = text_of(search.result());
  INFO(text);
  CHECK_THAT(text, Contains("join.p99<50ms"));
  CHECK_THAT(text, Contains("held up to 600/s"));
  CHECK_THAT(text, Contains(search.result().ended));
  CHECK_THAT(text, Contains("3.500 ms"));
  CHECK_THAT(text, Contains("61.250 ms"));
  CHECK_THAT(text, Contains("broke: join.p99<50ms (observed 61.250 ms)"));
  // One line per step, each with its rate.
  for (const char* rate : {" 200 ", " 600 ", " 1000 "}) CHECK_THAT(text, Contains(rate));
  std::istringstream lines(text);
  std::string line;
  int held_lines = 0;
  while (std::getline(lines, line))
    if (line.size() >= 4 && line.compare(line.size() - 4, 4, "held") == 0) ++held_lines;
  CHECK(held_lines == 2);

  capacity_search none(condition("join.p99<50ms"), 200, 400);
  none.record(saturated_at(200));
  const std::string none_text = text_of(none.result());
  INFO(none_text);
  CHECK_THAT(none_text, Contains("no rate held"));
  CHECK_THAT(none_text, Contains("generator saturated"));
}
