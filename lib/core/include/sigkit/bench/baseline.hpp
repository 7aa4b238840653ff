// `--baseline OLD.json --max-regression 10%`: this run against a stored one.
// Pure: two reports in, a list of checks out.
//
// Compared by default: the p99 of every latency both runs measured (connect
// join relay negotiation) and both rates (join_rate message_rate). A latency
// regressed when it grew by more than the limit; a rate when it dropped by
// more than it. `--max-regression 10%` sets the limit for all of them;
// `--max-regression join.p99=20%` sets it for one metric, which may be any
// latency statistic (join.p50, relay.p999, ...) or rate, and adds it to the
// comparison when it is not a default one. Without --max-regression the
// limit is 10%.
//
// A metric the baseline did not measure (or measured as zero) is listed as
// not compared; one the baseline measured and this run did not fails, as an
// unmeasured threshold does.
#pragma once

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/result.hpp"

namespace sigkit::bench {

struct report;

inline constexpr double default_max_regression_percent = 10.0;

struct regression_policy {
  double global_percent = default_max_regression_percent;
  std::map<std::string, double> per_metric;  // "join.p99" -> 20
};

// Each argument is "10%" (global) or "metric=20%" (the % is optional).
result<regression_policy, std::string> parse_max_regression(const std::vector<std::string>& arguments);

struct regression_check {
  std::string metric;                   // "join.p99", "join_rate"
  std::string unit;                     // "ms" or "/s"
  std::optional<double> baseline;       // nullopt: the baseline did not measure it
  std::optional<double> current;        // nullopt: this run did not measure it
  std::optional<double> change_percent; // signed: + is higher than the baseline
  double limit_percent = 0;
  bool higher_is_better = false;        // rates
  bool compared = false;                // false: nothing to compare against
  bool ok = true;

  // "join.p99 0.412 ms -> 0.530 ms (+28.6%, limit +10%)".
  std::string describe() const;
};

struct baseline_comparison {
  std::string file;         // the baseline's path, as given
  std::string started_at;   // the baseline run's
  std::string scenario;
  std::vector<regression_check> checks;

  bool ok() const;
  std::size_t regressions() const;
};

// As the JSON report's "baseline" and the text report's section show it.
nlohmann::json to_json(const baseline_comparison& b);
void write_text(std::ostream& out, const baseline_comparison& b);

baseline_comparison compare_with_baseline(const report& current, const report& baseline,
                                          const regression_policy& policy, std::string file = {});

}  // namespace sigkit::bench
