#include "sigkit/bench/threshold.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>

#include "sigkit/duration.hpp"
#include "sigkit/edit_distance.hpp"
#include "sigkit/proto/message.hpp"

namespace sigkit::bench {

namespace {

// --- the catalogue ------------------------------------------------------------

constexpr std::array<std::string_view, 5> latency_metrics{"connect", "join", "relay", "relay_cross", "negotiation"};
constexpr std::array<std::string_view, 7> latency_stats{"p50", "p90", "p99", "p999", "max", "mean", "count"};
constexpr std::array<std::string_view, 11> counters{"planned",  "connected",  "joined",     "failed",
                                                    "sent",     "received",   "lost",       "duplicated",
                                                    "misrouted", "errors",    "late_starts"};
constexpr std::array<std::string_view, 2> rates{"join_rate", "message_rate"};
constexpr std::string_view error_prefix = "errors.";

// Protocol v1's error codes, as proto spells them on the wire. Checked so that
// a misspelt code (`errors.room_full==0`) is an error, not a pass on zero.
const std::array<std::string_view, proto::error_code_count>& error_codes() {
  static const auto codes = [] {
    std::array<std::string_view, proto::error_code_count> names{};
    for (std::size_t i = 0; i < names.size(); ++i) names[i] = proto::to_string(static_cast<proto::error_code>(i));
    return names;
  }();
  return codes;
}

template <std::size_t n>
bool contains(const std::array<std::string_view, n>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

template <std::size_t n>
std::string joined(const std::array<std::string_view, n>& names, std::string_view separator) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += separator;
    out += name;
  }
  return out;
}

// --- text helpers -------------------------------------------------------------

std::string_view trim(std::string_view text) {
  constexpr std::string_view space = " \t\r\n";
  const auto first = text.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(space);
  return text.substr(first, last - first + 1);
}

// "; did you mean 'x'?" when exactly one candidate is a near miss (a typo or a
// swapped pair); nothing when none is, or when several are equally near (p98
// is as close to p90 as to p99, and guessing would mislead).
template <class names_t>
std::string suggestion(std::string_view wrong, const names_t& candidates) {
  std::size_t best = 3;  // further than two edits is not a typo
  std::string_view best_name;
  bool tie = false;
  for (const auto& candidate : candidates) {
    const std::size_t d = edit_distance(wrong, candidate);
    if (d < best) {
      best = d;
      best_name = candidate;
      tie = false;
    } else if (d == best) {
      tie = true;
    }
  }
  if (best_name.empty() || tie) return {};
  return "; did you mean '" + std::string(best_name) + "'?";
}

std::string quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// --- parsing ------------------------------------------------------------------

struct resolved_metric {
  metric_kind kind;
};

// Names the problem with the metric, or returns its kind.
result<resolved_metric, std::string> resolve_metric(std::string_view metric) {
  const auto dot = metric.find('.');
  if (dot == std::string_view::npos) {
    if (contains(counters, metric)) return resolved_metric{metric_kind::count};
    if (contains(rates, metric)) return resolved_metric{metric_kind::rate};
    if (contains(latency_metrics, metric))
      return "latency metric " + quoted(metric) + " needs a statistic, e.g. '" + std::string(metric) +
             ".p99' (statistics: " + joined(latency_stats, " ") + ")";
    return "unknown metric " + quoted(metric) + suggestion(metric, all_metric_names()) +
           " (latency: " + joined(latency_metrics, " ") + " with ." + joined(latency_stats, "|") +
           "; counts: " + joined(counters, " ") + "; rates: " + joined(rates, " ") + "; errors.<code>)";
  }

  const std::string_view head = metric.substr(0, dot);
  const std::string_view tail = metric.substr(dot + 1);
  if (contains(latency_metrics, head)) {
    if (contains(latency_stats, tail))
      return resolved_metric{tail == "count" ? metric_kind::count : metric_kind::latency};
    if (tail.empty()) return "missing statistic after " + quoted(metric) + " (" + joined(latency_stats, " ") + ")";
    return "unknown statistic " + quoted(tail) + " for latency metric " + quoted(head) +
           suggestion(tail, latency_stats) + " (known: " + joined(latency_stats, " ") + ")";
  }
  if (head == "errors") {
    if (proto::error_code_from_string(tail).has_value()) return resolved_metric{metric_kind::count};
    if (tail.empty()) return "missing error code after 'errors.' (codes: " + joined(error_codes(), " ") + ")";
    return "unknown error code " + quoted(tail) + suggestion(tail, error_codes()) +
           " (protocol v1 codes: " + joined(error_codes(), " ") + ")";
  }
  if (contains(counters, head) || contains(rates, head))
    return quoted(head) + " is a single number and has no statistics; write e.g. '" + std::string(head) +
           "==0'";
  return "unknown metric " + quoted(metric) + suggestion(metric, all_metric_names());
}

struct parsed_operator {
  comparison op;
  std::size_t length;
};

result<parsed_operator, std::string> parse_operator(std::string_view text) {
  // The maximal run of operator characters, so that "<>" or "=<" are named
  // whole rather than half-accepted.
  const std::size_t run = std::min(text.find_first_not_of("<>=!"), text.size());
  const std::string_view token = text.substr(0, run);
  if (token == "<") return parsed_operator{comparison::less, 1};
  if (token == "<=") return parsed_operator{comparison::less_equal, 2};
  if (token == ">") return parsed_operator{comparison::greater, 1};
  if (token == ">=") return parsed_operator{comparison::greater_equal, 2};
  if (token == "==") return parsed_operator{comparison::equal, 2};
  if (token == "!=") return parsed_operator{comparison::not_equal, 2};
  if (token == "=") return std::string("'=' is not a comparison; use '==' for equality");
  if (token == "=<") return std::string("unknown operator '=<'; did you mean '<='?");
  if (token == "=>") return std::string("unknown operator '=>'; did you mean '>='?");
  return "unknown operator " + quoted(token) + "; expected one of < <= > >= == !=";
}

struct parsed_bound {
  double value;
  std::string_view number;  // the digits as written
  std::string_view unit;
};

result<parsed_bound, std::string> parse_number(std::string_view text, std::string_view after_op) {
  if (text.empty()) return "missing value after " + quoted(after_op);
  if (text.front() == '-') return "the value after " + quoted(after_op) + " must not be negative";
  const bool starts_like_number = (text.front() >= '0' && text.front() <= '9') || text.front() == '.';
  double value = 0.0;
  const char* const first = text.data();
  const char* const last = text.data() + text.size();
  const auto [end, ec] = starts_like_number ? std::from_chars(first, last, value)
                                            : std::from_chars_result{first, std::errc::invalid_argument};
  if (ec == std::errc::result_out_of_range) return "the value " + quoted(text) + " is out of range";
  if (ec != std::errc{} || !std::isfinite(value))
    return "expected a number after " + quoted(after_op) + ", got " + quoted(text);
  return parsed_bound{value, std::string_view(first, static_cast<std::size_t>(end - first)),
                      trim(std::string_view(end, static_cast<std::size_t>(last - end)))};
}

// What a count's percentage is a share of (see the header), or why it has none.
result<std::string_view, std::string> share_base(std::string_view metric, metric_kind kind) {
  constexpr std::array<std::string_view, 4> of_planned{"connected", "joined", "failed", "late_starts"};
  constexpr std::array<std::string_view, 4> of_sent{"received", "lost", "duplicated", "misrouted"};
  if (kind == metric_kind::latency)
    return quoted(metric) + " is a latency; a percentage applies to counts (e.g. 'joined>=99.9%', 'failed<=0.1%')";
  if (kind == metric_kind::rate)
    return quoted(metric) + " is a rate per second; write a plain number (or with '/s'), without '%'";
  if (contains(of_planned, metric) || metric == "errors" || metric.starts_with(error_prefix)) return std::string_view("planned");
  if (contains(of_sent, metric)) return std::string_view("sent");
  if (metric == "planned" || metric == "sent")
    return quoted(metric) + " is what shares are taken of; write a plain number";
  return quoted(metric) + " has no count to be a share of; write a plain number";
}

// Converts the bound to the metric's unit, or names the unit problem.
result<double, std::string> apply_unit(std::string_view metric, metric_kind kind, const parsed_bound& bound) {
  switch (kind) {
    case metric_kind::latency: {
      // The same units as every duration on sigbench's command line.
      using namespace std::chrono_literals;
      if (const auto d = parse_duration(std::string(bound.number) + std::string(bound.unit), 1ms))
        return static_cast<double>(d->count()) / 1e6;
      if (!parse_duration("1" + std::string(bound.unit), 1ms))
        return "unknown unit " + quoted(bound.unit) + "; use ns, us, \xC2\xB5s, ms, s, m or h (none means ms)";
      return "the value " + quoted(std::string(bound.number) + std::string(bound.unit)) + " is out of range";
    }
    case metric_kind::count:
      if (bound.unit.empty()) return bound.value;
      return quoted(metric) + " is a count; write a plain number, without " + quoted(bound.unit);
    case metric_kind::rate:
      if (bound.unit.empty() || bound.unit == "/s") return bound.value;
      return quoted(metric) + " is a rate per second; write a plain number (or with '/s'), without " +
             quoted(bound.unit);
  }
  return std::string("unknown metric kind");  // unreachable: the switch is exhaustive
}

threshold_error error_in(std::string_view expr, const std::string& problem) {
  return threshold_error{"threshold " + quoted(expr) + ": " + problem};
}

}  // namespace

std::span<const std::string_view> latency_metric_names() { return latency_metrics; }
std::span<const std::string_view> latency_stat_names() { return latency_stats; }
std::span<const std::string_view> counter_names() { return counters; }
std::span<const std::string_view> rate_names() { return rates; }

std::vector<std::string> all_metric_names() {
  std::vector<std::string> names;
  for (std::string_view metric : latency_metrics)
    for (std::string_view stat : latency_stats) names.push_back(std::string(metric) + "." + std::string(stat));
  for (std::string_view counter : counters) names.emplace_back(counter);
  for (std::string_view rate : rates) names.emplace_back(rate);
  for (std::string_view code : error_codes()) names.push_back(std::string(error_prefix) + std::string(code));
  return names;
}

bool threshold::holds_for(double observed) const noexcept {
  switch (op) {
    case comparison::less: return observed < bound;
    case comparison::less_equal: return observed <= bound;
    case comparison::greater: return observed > bound;
    case comparison::greater_equal: return observed >= bound;
    case comparison::equal: return observed == bound;
    case comparison::not_equal: return observed != bound;
  }
  return false;
}

result<threshold, threshold_error> parse_threshold(std::string_view raw) {
  const std::string_view expr = trim(raw);
  if (expr.empty()) return threshold_error{"empty threshold expression"};

  const auto op_at = expr.find_first_of("<>=!");
  if (op_at == std::string_view::npos)
    return error_in(expr, "no comparison operator; expected one of < <= > >= == !=");
  const std::string_view metric = trim(expr.substr(0, op_at));
  if (metric.empty()) return error_in(expr, "missing metric name before " + quoted(expr.substr(op_at, 1)));

  const auto resolved = resolve_metric(metric);
  if (!resolved) return error_in(expr, resolved.error());

  const auto op = parse_operator(expr.substr(op_at));
  if (!op) return error_in(expr, op.error());
  const std::string_view op_text = expr.substr(op_at, op->length);

  const auto number = parse_number(trim(expr.substr(op_at + op->length)), op_text);
  if (!number) return error_in(expr, number.error());

  if (number->unit == "%") {
    const auto base = share_base(metric, resolved->kind);
    if (!base) return error_in(expr, base.error());
    // Errors may outnumber peers; nothing else can be more than all of its base.
    if (number->value > 100 && !metric.starts_with("errors"))
      return error_in(expr, "a share of " + std::string(*base) + " is at most 100%");
    return threshold{std::string(expr), std::string(metric), resolved->kind, op->op, number->value, std::string(*base)};
  }
  const auto bound = apply_unit(metric, resolved->kind, *number);
  if (!bound) return error_in(expr, bound.error());

  return threshold{std::string(expr), std::string(metric), resolved->kind, op->op, *bound};
}

threshold_verdict evaluate(const threshold& t, const metric_lookup& lookup) {
  auto measured = [&](const std::string& name) -> std::optional<double> {
    std::optional<double> value = lookup ? lookup(name) : std::nullopt;
    if (value && std::isnan(*value)) value.reset();
    if (!value && std::string_view(name).starts_with(error_prefix)) value = 0.0;
    return value;
  };
  threshold_verdict v{t.expr, measured(t.metric), false, t.kind, t.relative_to};
  if (!t.relative_to.empty()) {
    v.count = v.observed;
    v.of = measured(t.relative_to);
    v.observed.reset();
    if (v.count && v.of && *v.of > 0) v.observed = 100.0 * *v.count / *v.of;
  }
  v.ok = v.observed.has_value() && t.holds_for(*v.observed);
  return v;
}

namespace {

std::string number_text(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// Whole numbers without decimals; fractions with up to `decimals`, trailing
// zeros dropped ("99.95", not "99.950").
std::string trimmed_number(double value, int decimals) {
  std::string text = number_text(value, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

}  // namespace

std::string format_observed(const threshold_verdict& v) {
  if (!v.relative_to.empty()) {
    if (!v.observed) {
      if (v.of && *v.of == 0) return "nothing (no " + std::string(v.relative_to == "sent" ? "message sent" : "peer planned") + ")";
      return "nothing";
    }
    return trimmed_number(*v.observed, 3) + "% (" + trimmed_number(v.count.value_or(0), 0) + " of " +
           trimmed_number(v.of.value_or(0), 0) + " " + v.relative_to + ")";
  }
  if (!v.observed) return "nothing";
  switch (v.kind) {
    case metric_kind::latency:
      // Milliseconds, as every latency in the reports; microseconds below
      // one, where three decimals of a millisecond would round to zero.
      if (*v.observed != 0 && *v.observed < 0.001) return number_text(*v.observed * 1000.0, 3) + " us";
      return number_text(*v.observed, 3) + " ms";
    case metric_kind::rate: return number_text(*v.observed, 1) + "/s";
    case metric_kind::count: return trimmed_number(*v.observed, 3);
  }
  return trimmed_number(*v.observed, 3);
}

std::string describe(const threshold_verdict& v) { return v.expr + " (observed " + format_observed(v) + ")"; }

std::string_view to_string(comparison op) noexcept {
  switch (op) {
    case comparison::less: return "<";
    case comparison::less_equal: return "<=";
    case comparison::greater: return ">";
    case comparison::greater_equal: return ">=";
    case comparison::equal: return "==";
    case comparison::not_equal: return "!=";
  }
  return "?";
}

}  // namespace sigkit::bench
