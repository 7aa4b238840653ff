// sigbench pass/fail thresholds: `join.p99<20ms`, `lost==0`, `join_rate>=1000`.
//
// Grammar (spaces allowed between the parts):
//
//   threshold  = metric op number [unit]
//   metric     = latency "." stat | counter | rate | "errors." code
//   latency    = connect | join | relay | negotiation
//   stat       = p50 | p90 | p99 | p999 | max | mean | count
//   op         = "<" | "<=" | ">" | ">=" | "==" | "!="
//   unit       = ns | us | µs | ms | s     (latency stats other than count;
//                                           none means ms; parse_duration's
//                                           longer units m, min, h work too)
//              | "/s"                      (rates only, optional)
//
// Every name is checked against the catalogue at parse time: k6 once let a
// threshold on a misspelt metric pass silently (its issue #1526). Here an
// unknown metric, statistic, unit, error code or a malformed expression is a
// threshold_error naming the problem, and a metric the run did not measure
// fails its threshold instead of passing it.
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

namespace sigkit::bench {

enum class comparison { less, less_equal, greater, greater_equal, equal, not_equal };

enum class metric_kind {
  latency,  // a statistic of a latency histogram, in milliseconds
  count,    // a number of things: counters, errors.<code>, <latency>.count
  rate,     // per second
};

// The catalogue; the only place these names are listed.
std::span<const std::string_view> latency_metric_names();  // connect join relay negotiation
std::span<const std::string_view> latency_stat_names();    // p50 p90 p99 p999 max mean count
std::span<const std::string_view> counter_names();         // planned connected ... late_starts
std::span<const std::string_view> rate_names();            // join_rate message_rate
// errors.<code> takes proto's error codes (sigkit/proto.hpp), not a copy.
// Every concrete metric name a lookup may be asked for ("join.p99", "lost",
// "errors.room-full", ...), so a report can check it provides them all.
std::vector<std::string> all_metric_names();

struct threshold {
  std::string expr;    // as written, trimmed
  std::string metric;  // canonical lookup key: "join.p99", "lost", "errors.room-full"
  metric_kind kind;
  comparison op;
  double bound;        // milliseconds for latency statistics, else as written

  bool holds_for(double observed) const noexcept;
};

struct threshold_error {
  std::string message;  // one line, quoting the expression and naming the problem
};

result<threshold, threshold_error> parse_threshold(std::string_view expr);

// Given a canonical metric name, the observed value: latency statistics in
// milliseconds, counts and rates as plain numbers. nullopt means "not
// measured" (e.g. a percentile with no samples).
using metric_lookup = std::function<std::optional<double>(std::string_view metric)>;

struct threshold_verdict {
  std::string expr;
  std::optional<double> observed;  // nullopt: the run did not measure it
  bool ok;
};

// A metric that was not measured fails, except errors.<code>: a code that
// never occurred counts as zero, so a lookup need not list every code.
threshold_verdict evaluate(const threshold& t, const metric_lookup& lookup);

std::string_view to_string(comparison op) noexcept;

}  // namespace sigkit::bench
