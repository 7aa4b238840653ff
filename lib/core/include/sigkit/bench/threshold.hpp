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
//              | "%"                       (a share: see below)
//
// A percentage makes a threshold scale with the run: `joined>=99.9%`,
// `failed<=0.1%` hold for --peers 500 as for 50,000. Peer counts (connected
// joined failed late_starts) and error counts (errors, errors.<code>) are
// shares of `planned`; message counts (received lost duplicated misrouted)
// are shares of `sent`. A share of nothing (no peer planned, no message
// sent) is not measured, so it fails like any unmeasured metric.
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
  double bound;        // milliseconds for latency statistics, percent for shares, else as written
  // For a share (`joined>=99.9%`): the count it is a share of ("planned" or
  // "sent"); empty for an absolute bound.
  std::string relative_to = {};

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
  std::optional<double> observed;  // nullopt: the run did not measure it; a share in percent
  bool ok;
  // How to show `observed`: its kind, and for a share the counts behind it.
  metric_kind kind = metric_kind::count;
  std::string relative_to = {};
  std::optional<double> count = {};  // the metric itself, for a share
  std::optional<double> of = {};     // the count it is a share of
};

// A metric that was not measured fails, except errors.<code>: a code that
// never occurred counts as zero, so a lookup need not list every code.
threshold_verdict evaluate(const threshold& t, const metric_lookup& lookup);

// The observed value with its unit: "0.371 ms", "12", "1520.3/s",
// "99.95% (4998 of 5000 planned)", "nothing" when not measured.
std::string format_observed(const threshold_verdict& v);
// "join.p99<1us (observed 0.371 ms)".
std::string describe(const threshold_verdict& v);

std::string_view to_string(comparison op) noexcept;

}  // namespace sigkit::bench
