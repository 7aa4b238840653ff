#include "sigkit/bench/baseline.hpp"

#include <catch2/catch.hpp>
#include <sstream>

#include "sigkit/bench/report.hpp"
#include "sigkit/bench/verdict.hpp"

using sigkit::bench::compare_with_baseline;
using sigkit::bench::parse_max_regression;
using sigkit::bench::regression_policy;
using sigkit::bench::report;

namespace {

// A run whose join p99 is about `join_ms` and whose join rate is `rate`.
report run_with(double join_ms, double rate, bool relays = true) {
  report r;
  r.scenario = "smoke";
  r.started_at = "2026-11-23T13:30:00Z";
  for (const char* name : {"connect", "join", "relay", "negotiation"}) r.latency.emplace(name, sigkit::metrics::latency_histogram{});
  for (int i = 0; i < 1000; ++i) {
    r.latency["connect"].record(static_cast<std::uint64_t>(2e6));
    r.latency["join"].record(static_cast<std::uint64_t>(join_ms * 1e6));
    if (relays) r.latency["relay"].record(static_cast<std::uint64_t>(1e5));
    r.latency["negotiation"].record(static_cast<std::uint64_t>(5e6));
  }
  r.joined = 1000;
  r.join_rate = rate;
  r.message_rate = 5 * rate;
  return r;
}

const sigkit::bench::regression_check& check_of(const sigkit::bench::baseline_comparison& b, const std::string& metric) {
  for (const auto& c : b.checks)
    if (c.metric == metric) return c;
  FAIL("no check for " << metric);
  return b.checks.front();
}

regression_policy policy(std::vector<std::string> args) {
  auto p = parse_max_regression(args);
  if (!p) FAIL(p.error());
  return p.value();
}

}  // namespace

TEST_CASE("max-regression limits: global and per metric", "[baseline]") {
  const auto p = policy({"15%", "join.p99=20%", "join_rate=5", "relay.p999=50%"});
  CHECK(p.global_percent == 15);
  CHECK(p.per_metric.at("join.p99") == 20);
  CHECK(p.per_metric.at("join_rate") == 5);
  CHECK(p.per_metric.at("relay.p999") == 50);
  CHECK(policy({}).global_percent == 10);

  auto error_of = [](std::vector<std::string> args) {
    auto r = parse_max_regression(args);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(error_of({"ten"}).find("expected a percentage") != std::string::npos);
  CHECK(error_of({"-5%"}).find("expected a percentage") != std::string::npos);
  CHECK(error_of({"jion.p99=20%"}).find("did you mean 'join.p99'") != std::string::npos);
  CHECK(error_of({"lost=20%"}).find("'lost' is a count") != std::string::npos);
  CHECK(error_of({"join.p99=%"}).find("expected a percentage") != std::string::npos);
}

TEST_CASE("a p99 that grew past the limit is a regression, within it is not", "[baseline]") {
  const report old_run = run_with(1.0, 1000);
  const auto same = compare_with_baseline(run_with(1.05, 1000), old_run, policy({"10%"}), "old.json");
  CHECK(same.ok());
  CHECK(check_of(same, "join.p99").change_percent.value() == Approx(5.0).margin(0.2));

  const auto slower = compare_with_baseline(run_with(1.3, 1000), old_run, policy({"10%"}), "old.json");
  CHECK_FALSE(slower.ok());
  CHECK(slower.regressions() == 1);
  const auto& join = check_of(slower, "join.p99");
  CHECK_FALSE(join.ok);
  CHECK(join.describe().find("join.p99 1.000 ms -> 1.300 ms (+30.0%, limit +10%)") != std::string::npos);
  // Per metric, the limit can be looser for one and the same elsewhere.
  CHECK(compare_with_baseline(run_with(1.3, 1000), old_run, policy({"10%", "join.p99=40%"})).ok());
  // Faster is never a regression.
  CHECK(compare_with_baseline(run_with(0.5, 1000), old_run, policy({"0%"})).ok());
}

TEST_CASE("a rate that dropped past the limit is a regression", "[baseline]") {
  const report old_run = run_with(1.0, 1000);
  const auto slower = compare_with_baseline(run_with(1.0, 850), old_run, policy({"10%"}));
  CHECK_FALSE(slower.ok());
  const auto& rate = check_of(slower, "join_rate");
  CHECK(rate.higher_is_better);
  CHECK(*rate.change_percent == Approx(-15.0));
  CHECK(rate.describe() == "join_rate 1000.0/s -> 850.0/s (-15.0%, limit -10%)");
  CHECK(compare_with_baseline(run_with(1.0, 1500), old_run, policy({"0%"})).ok());
}

TEST_CASE("what the baseline did not measure is not compared; what this run did not measure fails", "[baseline]") {
  const report no_relays = run_with(1.0, 1000, false);
  const auto b = compare_with_baseline(run_with(1.0, 1000), no_relays, policy({}));
  CHECK(b.ok());
  CHECK_FALSE(check_of(b, "relay.p99").compared);
  CHECK(check_of(b, "relay.p99").describe().find("not compared") != std::string::npos);

  const auto lost = compare_with_baseline(no_relays, run_with(1.0, 1000), policy({}));
  CHECK_FALSE(lost.ok());
  CHECK_FALSE(check_of(lost, "relay.p99").ok);
}

TEST_CASE("the comparison shows in the text and JSON reports, and fails the verdict", "[baseline]") {
  report now = run_with(1.3, 1000);
  now.baseline = compare_with_baseline(now, run_with(1.0, 1000), policy({"10%"}), "old.json");
  std::ostringstream text;
  sigkit::bench::write_text(text, now);
  CHECK(text.str().find("baseline   old.json (smoke, started 2026-11-23T13:30:00Z): 1 regressed") != std::string::npos);
  CHECK(text.str().find("FAIL  join.p99 1.000 ms -> 1.300 ms") != std::string::npos);
  const auto j = sigkit::bench::to_json(now);
  CHECK(j["baseline"]["ok"] == false);
  CHECK(j["baseline"]["file"] == "old.json");
  CHECK(j["baseline"]["checks"].size() == 6);
  const auto verdict = sigkit::bench::verdict_of(now);
  CHECK(verdict.result == sigkit::bench::outcome::failed);
  REQUIRE(verdict.reasons.size() == 1);
  CHECK(verdict.reasons[0].find("regressed against the baseline: join.p99") == 0);
}
