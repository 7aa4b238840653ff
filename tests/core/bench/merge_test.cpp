#include "sigkit/bench/merge.hpp"

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "sigkit/bench/report.hpp"

using sigkit::bench::merge_reports;
using sigkit::bench::parse_threshold;
using sigkit::bench::report;
using sigkit::bench::report_from_json;
using sigkit::bench::threshold;
using sigkit::bench::to_json;
using sigkit::metrics::histogram_range;
using sigkit::metrics::latency_histogram;

namespace {

// A run of `rooms` rooms of two, as if measured: every latency sample and
// counter, so that it can be measured whole or split between segments.
struct sample_run {
  std::vector<std::uint64_t> connect, join, relay, negotiation;
};

sample_run make_samples(unsigned seed, std::size_t rooms) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> ms(13.8, 0.6);  // about 1 ms
  std::lognormal_distribution<double> us(11.0, 0.8);  // about 60 us
  sample_run s;
  for (std::size_t i = 0; i < rooms; ++i) {
    for (int peer = 0; peer < 2; ++peer) {
      s.connect.push_back(static_cast<std::uint64_t>(ms(rng)));
      s.join.push_back(static_cast<std::uint64_t>(us(rng)));
    }
    for (int m = 0; m < 10; ++m) s.relay.push_back(static_cast<std::uint64_t>(us(rng)));
    s.negotiation.push_back(static_cast<std::uint64_t>(ms(rng)) * 3);
  }
  return s;
}

// The report of rooms [first, last) of the sample run, started at `start`.
report run_of(const sample_run& s, std::size_t first, std::size_t last, std::string start) {
  report r;
  r.target = "ws://127.0.0.1:8080/ws";
  r.scenario = "smoke";
  r.started_at = std::move(start);
  r.duration_s = 3.0;
  for (const char* name : {"connect", "join", "relay", "negotiation"}) r.latency.emplace(name, latency_histogram{});
  for (std::size_t room = first; room < last; ++room) {
    for (std::size_t k = 2 * room; k < 2 * room + 2; ++k) {
      r.latency["connect"].record(s.connect[k]);
      r.connect_uncorrected.record(s.connect[k] / 2);
      r.latency["join"].record(s.join[k]);
    }
    for (std::size_t k = 10 * room; k < 10 * room + 10; ++k) r.latency["relay"].record(s.relay[k]);
    r.latency["negotiation"].record(s.negotiation[room]);
  }
  const std::uint64_t peers = 2 * (last - first);
  r.planned = r.connected = r.joined = peers;
  r.sent = r.received = 10 * (last - first);
  r.threads = 2;
  r.join_rate = static_cast<double>(peers) / 2.0;  // joins over the first 2 s
  r.message_rate = static_cast<double>(r.received) / r.duration_s;
  for (int t = 1; t <= 3; ++t) r.timeline.push_back({t + 0.0004, static_cast<double>(peers) / 3, 5.0, peers / 2});
  return r;
}

report round_tripped(const report& r) {
  auto back = report_from_json(to_json(r));
  if (!back) FAIL("report_from_json: " << back.error());
  return std::move(back.value());
}

std::vector<threshold> rules(std::initializer_list<const char*> exprs) {
  std::vector<threshold> out;
  for (const char* e : exprs) out.push_back(parse_threshold(e).value());
  return out;
}

}  // namespace

TEST_CASE("a report read back from its JSON holds the very histograms written", "[report][merge]") {
  const sample_run s = make_samples(1, 100);
  report r = run_of(s, 0, 100, "2026-11-23T13:30:00Z");
  r.errors["room-full"] = 3;
  r.failures["HTTP 503"] = 2;
  r.failed = 2;
  r.bytes_per_peer = 11362.5;
  r.aborted = "interrupted";
  r.evaluate(rules({"join.p99<20ms", "joined>=99.9%"}));
  const report back = round_tripped(r);
  for (const auto& [name, h] : r.latency) {
    INFO(name);
    REQUIRE(back.latency.count(name) == 1);
    CHECK(back.latency.at(name) == h);
  }
  CHECK(back.connect_uncorrected == r.connect_uncorrected);
  CHECK(back.planned == r.planned);
  CHECK(back.sent == r.sent);
  CHECK(back.errors == r.errors);
  CHECK(back.failures == r.failures);
  CHECK(back.started_at == r.started_at);
  CHECK(back.bytes_per_peer == r.bytes_per_peer);
  CHECK(back.aborted == r.aborted);
  CHECK(back.timeline.size() == 3);
  REQUIRE(back.verdicts.size() == r.verdicts.size());
  for (std::size_t i = 0; i < r.verdicts.size(); ++i) {
    CHECK(back.verdicts[i].expr == r.verdicts[i].expr);
    CHECK(back.verdicts[i].ok == r.verdicts[i].ok);
    CHECK(sigkit::bench::format_observed(back.verdicts[i]) == sigkit::bench::format_observed(r.verdicts[i]));
  }
  // The JSON says how to read them.
  const auto j = to_json(r);
  CHECK(j["histograms"]["unit"] == "ns");
  CHECK(j["histograms"]["join"]["hdr"].get<std::string>().rfind("HISTF", 0) == 0);
  CHECK(j["histograms"]["join"]["count"] == 200);
}

TEST_CASE("a report without histograms or with damaged ones is refused with the reason", "[report][merge]") {
  const report r = run_of(make_samples(2, 10), 0, 10, "2026-11-23T13:30:00Z");
  auto j = to_json(r);
  auto error_of = [](const nlohmann::json& bad) {
    auto back = report_from_json(bad);
    REQUIRE_FALSE(back.ok());
    return back.error();
  };
  auto no_histograms = j;
  no_histograms.erase("histograms");
  CHECK(error_of(no_histograms).find("no \"histograms\"") != std::string::npos);
  auto damaged = j;
  damaged["histograms"]["join"]["hdr"] = "HISTFAAAACB4nJNpm";
  CHECK(error_of(damaged).find("histograms.join") != std::string::npos);
  auto miscounted = j;
  miscounted["histograms"]["relay"]["count"] = 7;
  CHECK(error_of(miscounted).find("\"count\" says 7") != std::string::npos);
  auto contradicted = j;
  contradicted["histograms"]["relay"]["max"] = 1;
  CHECK(error_of(contradicted).find("contradict") != std::string::npos);
  auto wrong_type = j;
  wrong_type["peers"]["planned"] = "lots";
  CHECK(error_of(wrong_type).find("peers.planned") != std::string::npos);
  CHECK(error_of(nlohmann::json::array()).find("JSON object") != std::string::npos);
}

TEST_CASE("two segments merged equal the single run: counts, histograms, verdicts", "[merge]") {
  const sample_run s = make_samples(3, 500);
  const report whole = run_of(s, 0, 500, "2026-11-23T13:30:00Z");
  // Segment 0 and 1 of 2 (rooms dealt out unevenly), read back from JSON as
  // `sigbench merge` reads them.
  const report a = round_tripped(run_of(s, 0, 180, "2026-11-23T13:30:00Z"));
  const report b = round_tripped(run_of(s, 180, 500, "2026-11-23T13:30:00Z"));
  auto merged = merge_reports({a, b});
  REQUIRE(merged.ok());
  report& m = merged.value();
  CHECK(m.planned == whole.planned);
  CHECK(m.joined == whole.joined);
  CHECK(m.sent == whole.sent);
  CHECK(m.received == whole.received);
  for (const auto& [name, h] : whole.latency) {
    INFO(name);
    CHECK(m.latency.at(name) == h);  // slot for slot, and the exact extremes and sum
    for (double p : {50.0, 90.0, 99.0, 99.9, 100.0})
      CHECK(m.latency.at(name).value_at_percentile(p) == h.value_at_percentile(p));
  }
  CHECK(m.connect_uncorrected == whole.connect_uncorrected);
  CHECK(m.threads == 4);
  CHECK(m.join_rate == Approx(whole.join_rate));
  CHECK(m.message_rate == Approx(whole.message_rate));

  // Thresholds re-applied to the merged run judge it as the single run.
  const auto thresholds = rules({"joined>=99.9%", "join.p99<1ms", "relay.p50<1s", "failed<=0.1%"});
  report single = whole;
  single.evaluate(thresholds);
  m.evaluate(thresholds);
  REQUIRE(m.verdicts.size() == single.verdicts.size());
  for (std::size_t i = 0; i < m.verdicts.size(); ++i) {
    INFO(m.verdicts[i].expr);
    CHECK(m.verdicts[i].ok == single.verdicts[i].ok);
    CHECK(m.verdicts[i].observed == single.verdicts[i].observed);
  }
}

TEST_CASE("merge adds errors and failures by name and aligns timelines on start times", "[merge]") {
  const sample_run s = make_samples(4, 20);
  report a = run_of(s, 0, 10, "2026-11-23T13:30:00Z");
  report b = run_of(s, 10, 20, "2026-11-23T13:30:02Z");  // started two seconds later
  a.errors = {{"room-full", 2}, {"rate-limited", 1}};
  b.errors = {{"room-full", 5}};
  a.failures = {{"HTTP 503", 1}};
  b.failures = {{"HTTP 503", 4}, {"connection refused", 2}};
  b.saturated = true;
  b.aborted = "interrupted";
  b.bytes_per_peer = 12000;
  b.peak_connections = 1500;
  auto merged = merge_reports({a, b});
  REQUIRE(merged.ok());
  const report& m = merged.value();
  CHECK(m.errors == std::map<std::string, std::uint64_t>{{"room-full", 7}, {"rate-limited", 1}});
  CHECK(m.failures == std::map<std::string, std::uint64_t>{{"HTTP 503", 5}, {"connection refused", 2}});
  CHECK(m.started_at == "2026-11-23T13:30:00Z");
  CHECK(m.duration_s == Approx(5.0));  // b ends 2 + 3 s after a's start
  CHECK(m.saturated);
  REQUIRE(m.aborted.has_value());
  CHECK(m.aborted->find("report 2") != std::string::npos);
  CHECK(m.bytes_per_peer == 12000);
  // a samples at 1, 2, 3 s; b at 3, 4, 5 s of the merged run.
  REQUIRE(m.timeline.size() == 5);
  CHECK(m.timeline[0].t_s == 1);
  CHECK(m.timeline[2].t_s == 3);
  CHECK(m.timeline[2].messages_per_s == 10.0);  // both at once
  CHECK(m.timeline[2].connected == 20);
  CHECK(m.timeline[4].t_s == 5);
  CHECK(m.timeline[4].messages_per_s == 5.0);
  // Joins over the span from the first start to the last join (b's, at 4 s).
  CHECK(m.join_rate == Approx(40.0 / 4.0));
}

TEST_CASE("merge refuses parts it cannot add up", "[merge]") {
  const sample_run s = make_samples(5, 4);
  report a = run_of(s, 0, 2, "2026-11-23T13:30:00Z");
  report b = run_of(s, 2, 4, "yesterday");
  auto no_time = merge_reports({a, b});
  REQUIRE_FALSE(no_time.ok());
  CHECK(no_time.error().find("report 2 has no usable started_at") != std::string::npos);
  b.started_at = a.started_at;
  b.latency["join"] = latency_histogram(histogram_range{1, 60'000'000'000, 2});
  auto ranges = merge_reports({a, b});
  REQUIRE_FALSE(ranges.ok());
  CHECK(ranges.error().find("join histogram has another range") != std::string::npos);
  CHECK_FALSE(merge_reports({}).ok());
}

TEST_CASE("the thresholds to re-apply are the parts' own, without the default rules", "[merge]") {
  report a, b;
  a.evaluate(rules({"join.p99<20ms", "lost==0"}));
  b.evaluate(rules({"lost==0", "joined>=99%"}));
  const auto exprs = sigkit::bench::threshold_exprs({a, b});
  CHECK(exprs == std::vector<std::string>{"join.p99<20ms", "lost==0", "joined>=99%"});
}

TEST_CASE("UTC times parse to the epoch", "[merge]") {
  using sigkit::bench::parse_utc_time;
  CHECK(parse_utc_time("1970-01-01T00:00:00Z") == 0.0);
  CHECK(parse_utc_time("2026-11-23T13:30:00Z") == 1795440600.0);
  CHECK(*parse_utc_time("2026-11-23T13:30:00.250Z") == Approx(1795440600.25));
  CHECK_FALSE(parse_utc_time("2026-11-23 13:30").has_value());
  CHECK_FALSE(parse_utc_time("2026-13-23T13:30:00Z").has_value());
  CHECK_FALSE(parse_utc_time("2026-11-23T13:30:00Zjunk").has_value());
}
