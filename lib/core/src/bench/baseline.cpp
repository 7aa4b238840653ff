#include "sigkit/bench/baseline.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "sigkit/bench/report.hpp"
#include "sigkit/bench/threshold.hpp"

namespace sigkit::bench {

namespace {

constexpr std::string_view default_metrics[] = {"connect.p99", "join.p99", "relay.p99", "negotiation.p99",
                                                "join_rate", "message_rate"};

std::string number_text(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string trimmed(double value) {
  std::string text = number_text(value, 2);
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

result<double, std::string> parse_percent(std::string_view text, std::string_view whole) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0)
    return "--max-regression '" + std::string(whole) + "': expected a percentage like 10% or join.p99=20%";
  return value;
}

}  // namespace

result<regression_policy, std::string> parse_max_regression(const std::vector<std::string>& arguments) {
  regression_policy policy;
  for (const std::string& argument : arguments) {
    const auto eq = argument.find('=');
    if (eq == std::string::npos) {
      auto percent = parse_percent(argument, argument);
      if (!percent) return percent.error();
      policy.global_percent = *percent;
      continue;
    }
    const std::string metric = argument.substr(0, eq);
    auto percent = parse_percent(std::string_view(argument).substr(eq + 1), argument);
    if (!percent) return percent.error();
    // The names thresholds know, and of those only latencies and rates: a
    // count (lost, joined) has thresholds for its limits.
    auto probe = parse_threshold(metric + ">=0");
    if (!probe) {
      std::string why = probe.error().message;
      const auto colon = why.find(": ");
      return "--max-regression '" + argument + "': " + (colon == std::string::npos ? why : why.substr(colon + 2));
    }
    if (probe->kind == metric_kind::count)
      return "--max-regression '" + argument + "': '" + metric +
             "' is a count; a regression limit applies to latencies (join.p99) and rates (join_rate)";
    policy.per_metric[metric] = *percent;
  }
  return policy;
}

std::string regression_check::describe() const {
  auto value = [&](const std::optional<double>& v) {
    if (!v) return std::string("nothing");
    return unit == "ms" ? number_text(*v, 3) + " ms" : number_text(*v, 1) + "/s";
  };
  std::string text = metric + " " + value(baseline) + " -> " + value(current);
  const std::string limit = std::string(higher_is_better ? "-" : "+") + trimmed(limit_percent) + "%";
  if (!compared) return text + " (not compared: the baseline did not measure it)";
  if (!change_percent) return text + " (not measured now; limit " + limit + ")";
  return text + " (" + (*change_percent >= 0 ? "+" : "") + number_text(*change_percent, 1) + "%, limit " + limit + ")";
}

bool baseline_comparison::ok() const {
  return std::all_of(checks.begin(), checks.end(), [](const regression_check& c) { return c.ok; });
}

std::size_t baseline_comparison::regressions() const {
  return static_cast<std::size_t>(std::count_if(checks.begin(), checks.end(), [](const auto& c) { return !c.ok; }));
}

nlohmann::json to_json(const baseline_comparison& b) {
  using json = nlohmann::json;
  json checks = json::array();
  for (const auto& c : b.checks) {
    auto optional = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
    checks.push_back({{"metric", c.metric}, {"unit", c.unit}, {"baseline", optional(c.baseline)},
                      {"current", optional(c.current)}, {"change_percent", optional(c.change_percent)},
                      {"limit_percent", c.limit_percent}, {"higher_is_better", c.higher_is_better},
                      {"compared", c.compared}, {"ok", c.ok}});
  }
  return {{"file", b.file}, {"started_at", b.started_at}, {"scenario", b.scenario}, {"ok", b.ok()}, {"checks", checks}};
}

void write_text(std::ostream& out, const baseline_comparison& b) {
  out << "\n  baseline   " << b.file << " (" << b.scenario << ", started " << b.started_at << "): "
      << (b.ok() ? "no regression" : std::to_string(b.regressions()) + " regressed") << "\n";
  for (const auto& c : b.checks)
    out << "    " << (!c.compared ? "  -  " : c.ok ? "pass " : "FAIL ") << " " << c.describe() << "\n";
}

baseline_comparison compare_with_baseline(const report& current, const report& baseline,
                                          const regression_policy& policy, std::string file) {
  baseline_comparison out;
  out.file = std::move(file);
  out.started_at = baseline.started_at;
  out.scenario = baseline.scenario;
  std::vector<std::string> metrics(std::begin(default_metrics), std::end(default_metrics));
  for (const auto& [metric, limit] : policy.per_metric)
    if (std::find(metrics.begin(), metrics.end(), metric) == metrics.end()) metrics.push_back(metric);

  for (const std::string& metric : metrics) {
    regression_check c;
    c.metric = metric;
    c.higher_is_better = metric == "join_rate" || metric == "message_rate";
    c.unit = c.higher_is_better ? "/s" : "ms";
    auto limit = policy.per_metric.find(metric);
    c.limit_percent = limit == policy.per_metric.end() ? policy.global_percent : limit->second;
    c.baseline = baseline.metric(metric);
    c.current = current.metric(metric);
    // Nothing to compare against: a metric the old run did not measure (a
    // relay latency with rooms of one) or measured as zero.
    c.compared = c.baseline.has_value() && *c.baseline > 0;
    if (c.compared) {
      if (c.current) {
        c.change_percent = 100.0 * (*c.current - *c.baseline) / *c.baseline;
        const double worse = c.higher_is_better ? -*c.change_percent : *c.change_percent;
        c.ok = worse <= c.limit_percent;
      } else {
        c.ok = false;
      }
    }
    out.checks.push_back(std::move(c));
  }
  return out;
}

}  // namespace sigkit::bench
