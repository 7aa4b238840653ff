#include "sigkit/bench/threshold.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sigkit/proto/message.hpp"

using sigkit::bench::comparison;
using sigkit::bench::evaluate;
using sigkit::bench::metric_kind;
using sigkit::bench::metric_lookup;
using sigkit::bench::parse_threshold;
using sigkit::bench::threshold;

namespace {

threshold parsed(std::string_view expr) {
  auto result = parse_threshold(expr);
  INFO("expression: " << expr);
  if (!result) FAIL("unexpected error: " << result.error().message);
  return result.value();
}

std::string error_for(std::string_view expr) {
  auto result = parse_threshold(expr);
  INFO("expression: " << expr);
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

metric_lookup lookup_from(std::map<std::string, double> values) {
  return [values = std::move(values)](std::string_view metric) -> std::optional<double> {
    const auto it = values.find(std::string(metric));
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// Evaluates `expr` against a run where `metric` measured `observed`.
bool passes(std::string_view expr, const std::string& metric, double observed) {
  const auto verdict = evaluate(parsed(expr), lookup_from({{metric, observed}}));
  REQUIRE(verdict.observed.has_value());
  CHECK(*verdict.observed == observed);
  CHECK(verdict.expr == expr);
  return verdict.ok;
}

}  // namespace

TEST_CASE("the issue's examples parse", "[threshold]") {
  struct example {
    std::string_view expr;
    std::string_view metric;
    metric_kind kind;
    comparison op;
    double bound;
  };
  const example examples[] = {
      {"join.p99<20ms", "join.p99", metric_kind::latency, comparison::less, 20.0},
      {"connect.p50<=5ms", "connect.p50", metric_kind::latency, comparison::less_equal, 5.0},
      {"negotiation.max<1s", "negotiation.max", metric_kind::latency, comparison::less, 1000.0},
      {"lost==0", "lost", metric_kind::count, comparison::equal, 0.0},
      {"errors==0", "errors", metric_kind::count, comparison::equal, 0.0},
      {"joined>=9990", "joined", metric_kind::count, comparison::greater_equal, 9990.0},
      {"join_rate>=1000", "join_rate", metric_kind::rate, comparison::greater_equal, 1000.0},
      {"relay.p999<50ms", "relay.p999", metric_kind::latency, comparison::less, 50.0},
      {"relay.mean<2ms", "relay.mean", metric_kind::latency, comparison::less, 2.0},
      {"misrouted!=1", "misrouted", metric_kind::count, comparison::not_equal, 1.0},
      {"message_rate>5000", "message_rate", metric_kind::rate, comparison::greater, 5000.0},
      {"join.count>=10000", "join.count", metric_kind::count, comparison::greater_equal, 10000.0},
      {"errors.room-full==0", "errors.room-full", metric_kind::count, comparison::equal, 0.0},
      {"late_starts<=10", "late_starts", metric_kind::count, comparison::less_equal, 10.0},
  };
  for (const example& e : examples) {
    const threshold t = parsed(e.expr);
    INFO(e.expr);
    CHECK(t.expr == e.expr);
    CHECK(t.metric == e.metric);
    CHECK(t.kind == e.kind);
    CHECK(t.op == e.op);
    CHECK(t.bound == Approx(e.bound));
  }
}

TEST_CASE("the examples evaluate both ways", "[threshold]") {
  CHECK(passes("join.p99<20ms", "join.p99", 19.9));
  CHECK_FALSE(passes("join.p99<20ms", "join.p99", 20.0));
  CHECK(passes("connect.p50<=5ms", "connect.p50", 5.0));
  CHECK_FALSE(passes("connect.p50<=5ms", "connect.p50", 5.01));
  CHECK(passes("negotiation.max<1s", "negotiation.max", 999.0));
  CHECK_FALSE(passes("negotiation.max<1s", "negotiation.max", 1000.0));
  CHECK(passes("lost==0", "lost", 0));
  CHECK_FALSE(passes("lost==0", "lost", 1));
  CHECK(passes("errors==0", "errors", 0));
  CHECK_FALSE(passes("errors==0", "errors", 3));
  CHECK(passes("joined>=9990", "joined", 9990));
  CHECK_FALSE(passes("joined>=9990", "joined", 9989));
  CHECK(passes("join_rate>=1000", "join_rate", 1000.5));
  CHECK_FALSE(passes("join_rate>=1000", "join_rate", 999.9));
  CHECK(passes("relay.p999<50ms", "relay.p999", 49.0));
  CHECK_FALSE(passes("relay.p999<50ms", "relay.p999", 51.0));
  CHECK(passes("relay.mean<2ms", "relay.mean", 1.2));
  CHECK_FALSE(passes("relay.mean<2ms", "relay.mean", 2.5));
  CHECK(passes("misrouted!=1", "misrouted", 0));
  CHECK_FALSE(passes("misrouted!=1", "misrouted", 1));
  CHECK(passes("message_rate>5000", "message_rate", 5001));
  CHECK_FALSE(passes("message_rate>5000", "message_rate", 5000));
}

TEST_CASE("latency units convert to milliseconds", "[threshold]") {
  CHECK(parsed("join.p99<20").bound == 20.0);  // no unit means ms
  CHECK(parsed("join.p99<1.5s").bound == Approx(1500.0));
  CHECK(parsed("join.p99<500us").bound == Approx(0.5));
  CHECK(parsed("join.p99<500\xC2\xB5s").bound == Approx(0.5));  // MICRO SIGN
  CHECK(parsed("join.p99<1m").bound == Approx(60'000.0));         // parse_duration's units throughout
  CHECK(parsed("join.p99<250ns").bound == Approx(0.00025));
  CHECK(parsed("join.p99<.5ms").bound == Approx(0.5));
  CHECK(parsed("join_rate>=1000/s").bound == 1000.0);

  // 900 us observed against a 1 ms bound written three ways.
  for (const auto* expr : {"relay.p99<1ms", "relay.p99<1000us", "relay.p99<0.001s"})
    CHECK(passes(expr, "relay.p99", 0.9));
}

TEST_CASE("spaces around the parts are allowed", "[threshold]") {
  const threshold t = parsed("  join.p99 <= 20 ms ");
  CHECK(t.expr == "join.p99 <= 20 ms");
  CHECK(t.metric == "join.p99");
  CHECK(t.op == comparison::less_equal);
  CHECK(t.bound == 20.0);
}

TEST_CASE("malformed expressions and unknown names are errors that say why", "[threshold]") {
  struct bad {
    std::string_view expr;
    std::string_view says;
  };
  const bad cases[] = {
      {"join.p99<", "missing value after '<'"},
      {"join.p98<1ms", "unknown statistic 'p98' for latency metric 'join'"},
      {"foo==0", "unknown metric 'foo'"},
      {"lost=0", "use '==' for equality"},
      {"join.p99<5parsecs", "unknown unit 'parsecs'"},
      {"jion.p99<5ms", "did you mean 'join.p99'?"},
      {"jion.p99<5ms", "unknown metric 'jion.p99'"},
      {"join<5ms", "latency metric 'join' needs a statistic"},
      {"join.<5ms", "missing statistic"},
      {"lost.p99<1", "'lost' is a single number and has no statistics"},
      {"lost<5ms", "'lost' is a count; write a plain number, without 'ms'"},
      {"join.count>=10ms", "'join.count' is a count"},
      {"join_rate>=1000ms", "'join_rate' is a rate per second"},
      {"errors.room_full==0", "unknown error code 'room_full'; did you mean 'room-full'?"},
      {"errors.==0", "missing error code"},
      {"join.p99", "no comparison operator"},
      {"<5ms", "missing metric name before '<'"},
      {"join.p99<-1ms", "must not be negative"},
      {"join.p99<abc", "expected a number after '<', got 'abc'"},
      {"join.p99<inf", "expected a number"},
      {"join.p99<nan", "expected a number"},
      {"join.p99<1e999", "out of range"},
      {"join.p99<1e10s", "out of range"},
      {"join.p99=<5", "did you mean '<='?"},
      {"join.p99=>5", "did you mean '>='?"},
      {"join.p99<>5", "unknown operator '<>'"},
      {"join.p99!5", "unknown operator '!'"},
      {"join.p99<<5", "unknown operator '<<'"},
      {"Join.p99<5ms", "unknown metric 'Join.p99'"},
  };
  for (const bad& c : cases) {
    const std::string message = error_for(c.expr);
    INFO("expression: " << c.expr << "\nmessage: " << message);
    CHECK(message.find(c.says) != std::string::npos);
    // One line a user can act on, naming the expression it is about.
    CHECK(message.find("threshold '" + std::string(c.expr) + "'") == 0);
    CHECK(message.find('\n') == std::string::npos);
  }
  CHECK(error_for("") == "empty threshold expression");
  CHECK(error_for("   ") == "empty threshold expression");
}

TEST_CASE("unknown-name errors list what is known", "[threshold]") {
  const std::string stat = error_for("join.p98<1ms");
  CHECK(stat.find("p50 p90 p99 p999 max mean count") != std::string::npos);
  CHECK(stat.find("did you mean") == std::string::npos);  // p90 and p99 are equally near: no guess

  const std::string metric = error_for("foo==0");
  for (const auto* name : {"connect", "negotiation", "late_starts", "message_rate", "errors.<code>"})
    CHECK(metric.find(name) != std::string::npos);

  const std::string code = error_for("errors.nope==0");
  CHECK(code.find("room-full") != std::string::npos);
}

TEST_CASE("every catalogued metric parses, and nothing else does", "[threshold]") {
  const auto names = sigkit::bench::all_metric_names();
  CHECK(names.size() == 5 * 7 + 11 + 2 + sigkit::proto::error_code_count);  // latencies (connect join relay relay_cross negotiation), counters, rates, errors.<code>
  for (const std::string& name : names) {
    const auto t = parse_threshold(name + ">=0");
    INFO(name);
    REQUIRE(t.ok());
    CHECK(t->metric == name);
  }
  // A near miss of each is rejected.
  for (const std::string& name : names) CHECK_FALSE(parse_threshold(name + "x>=0").ok());
}

TEST_CASE("each operator at, below and above its bound", "[threshold]") {
  struct row {
    std::string_view expr;
    bool below, at, above;
  };
  const row rows[] = {
      {"lost<5", true, false, false},   {"lost<=5", true, true, false}, {"lost>5", false, false, true},
      {"lost>=5", false, true, true},   {"lost==5", false, true, false}, {"lost!=5", true, false, true},
  };
  for (const row& r : rows) {
    INFO(r.expr);
    CHECK(passes(r.expr, "lost", 4) == r.below);
    CHECK(passes(r.expr, "lost", 5) == r.at);
    CHECK(passes(r.expr, "lost", 6) == r.above);
  }
}

TEST_CASE("a metric the run did not measure fails", "[threshold]") {
  const auto verdict = evaluate(parsed("join.p99<20ms"), lookup_from({{"lost", 0}}));
  CHECK_FALSE(verdict.ok);
  CHECK_FALSE(verdict.observed.has_value());

  // Even a threshold that any value would meet.
  CHECK_FALSE(evaluate(parsed("join.p99>=0"), lookup_from({})).ok);
  CHECK_FALSE(evaluate(parsed("lost!=1"), lookup_from({})).ok);
  CHECK_FALSE(evaluate(parsed("lost!=1"), metric_lookup{}).ok);
  CHECK_FALSE(evaluate(parsed("relay.mean<2ms"), lookup_from({{"relay.mean", std::nan("")}})).ok);
}

TEST_CASE("an error code that never occurred counts as zero", "[threshold]") {
  const auto none = evaluate(parsed("errors.room-full==0"), lookup_from({}));
  CHECK(none.ok);
  REQUIRE(none.observed.has_value());
  CHECK(*none.observed == 0.0);

  const auto some = evaluate(parsed("errors.room-full==0"), lookup_from({{"errors.room-full", 2}}));
  CHECK_FALSE(some.ok);
  CHECK(*some.observed == 2.0);
}

TEST_CASE("comparisons print as written", "[threshold]") {
  CHECK(sigkit::bench::to_string(parsed("lost<=1").op) == "<=");
  CHECK(sigkit::bench::to_string(parsed("lost!=1").op) == "!=");
}

TEST_CASE("a percentage is a share of planned peers or of sent messages", "[threshold]") {
  const threshold joined = parsed("joined>=99.9%");
  CHECK(joined.metric == "joined");
  CHECK(joined.relative_to == "planned");
  CHECK(joined.bound == 99.9);
  CHECK(parsed("failed<=0.1%").relative_to == "planned");
  CHECK(parsed("connected >= 100 %").relative_to == "planned");
  CHECK(parsed("errors<=1%").relative_to == "planned");
  CHECK(parsed("errors.room-full<=1%").relative_to == "planned");
  CHECK(parsed("lost<=0.01%").relative_to == "sent");
  CHECK(parsed("received>=99.99%").relative_to == "sent");
  CHECK(parsed("joined>=9990").relative_to.empty());

  // --peers 500 and --peers 50000 are judged alike.
  for (double planned : {500.0, 50000.0}) {
    INFO("planned " << planned);
    const auto all = evaluate(joined, lookup_from({{"joined", planned}, {"planned", planned}}));
    CHECK(all.ok);
    CHECK(*all.observed == 100.0);
    CHECK(evaluate(parsed("failed<=0.1%"), lookup_from({{"failed", 0}, {"planned", planned}})).ok);
  }
  const auto short_of = evaluate(joined, lookup_from({{"joined", 499}, {"planned", 500}}));
  CHECK_FALSE(short_of.ok);  // 99.8%
  CHECK(*short_of.observed == Approx(99.8));
  CHECK(*short_of.count == 499);
  CHECK(*short_of.of == 500);
  CHECK(evaluate(joined, lookup_from({{"joined", 49950}, {"planned", 50000}})).ok);  // exactly 99.9%
  CHECK_FALSE(evaluate(parsed("failed<=0.1%"), lookup_from({{"failed", 1}, {"planned", 500}})).ok);  // 0.2%
  CHECK(evaluate(parsed("failed<=0.1%"), lookup_from({{"failed", 1}, {"planned", 1000}})).ok);
  CHECK(evaluate(parsed("lost<=0.1%"), lookup_from({{"lost", 1}, {"sent", 1000}})).ok);
  // An error code that never occurred is 0% of the plan.
  CHECK(evaluate(parsed("errors.room-full<=1%"), lookup_from({{"planned", 10}})).ok);
}

TEST_CASE("a share of nothing is not measured and fails", "[threshold]") {
  const auto none = evaluate(parsed("lost<=0.1%"), lookup_from({{"lost", 0}, {"sent", 0}}));
  CHECK_FALSE(none.ok);
  CHECK_FALSE(none.observed.has_value());
  CHECK(sigkit::bench::format_observed(none) == "nothing (no message sent)");
  CHECK_FALSE(evaluate(parsed("joined>=99%"), lookup_from({{"joined", 0}})).ok);  // planned unknown
}

TEST_CASE("a percentage where it means nothing is an error that says why", "[threshold]") {
  CHECK(error_for("join.p99<5%").find("'join.p99' is a latency; a percentage applies to counts") != std::string::npos);
  CHECK(error_for("join_rate>=5%").find("is a rate per second") != std::string::npos);
  CHECK(error_for("planned>=5%").find("what shares are taken of") != std::string::npos);
  CHECK(error_for("sent>=5%").find("what shares are taken of") != std::string::npos);
  CHECK(error_for("join.count>=5%").find("no count to be a share of") != std::string::npos);
  CHECK(error_for("joined>=-5%").find("must not be negative") != std::string::npos);
  CHECK(error_for("joined>=5%%").find("'joined' is a count") != std::string::npos);
}

TEST_CASE("observed values print with their units", "[threshold]") {
  using sigkit::bench::describe;
  using sigkit::bench::format_observed;
  const auto slow = evaluate(parsed("join.p99<1us"), lookup_from({{"join.p99", 0.371}}));
  CHECK_FALSE(slow.ok);
  CHECK(describe(slow) == "join.p99<1us (observed 0.371 ms)");
  CHECK(format_observed(evaluate(parsed("relay.p50<1ms"), lookup_from({{"relay.p50", 0.0004}}))) == "0.400 us");
  CHECK(format_observed(evaluate(parsed("lost==0"), lookup_from({{"lost", 3}}))) == "3");
  CHECK(format_observed(evaluate(parsed("join_rate>=10"), lookup_from({{"join_rate", 1520.34}}))) == "1520.3/s");
  CHECK(format_observed(evaluate(parsed("joined>=99.9%"), lookup_from({{"joined", 4998}, {"planned", 5000}}))) ==
        "99.96% (4998 of 5000 planned)");
  CHECK(describe(evaluate(parsed("join.p99<20ms"), lookup_from({}))) == "join.p99<20ms (observed nothing)");
}
