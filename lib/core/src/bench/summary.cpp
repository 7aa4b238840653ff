#include "sigkit/bench/summary.hpp"

#include <cstdio>

#include "report_parts.hpp"
#include "sigkit/bench/verdict.hpp"

namespace sigkit::bench {

namespace {

// Inline code: backquotes inside are doubled up as GitHub's renderer reads
// them (a space-padded double-backquote span).
std::string code(std::string_view text) {
  std::string inner;
  for (char c : text) inner += (c == '\n' || c == '|') ? (c == '|' ? std::string("\\|") : std::string(" ")) : std::string(1, c);
  if (inner.find('`') != std::string::npos) return "`` " + inner + " ``";
  return "`" + inner + "`";
}

}  // namespace

std::string markdown_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\': case '`': case '*': case '_': case '[': case ']': case '<': case '>': case '|': case '#':
      case '~':
        out += '\\';
        out += c;
        break;
      case '\n': case '\r': out += ' '; break;
      default: out += c;
    }
  }
  return out;
}

void write_markdown_summary(std::ostream& out, const report& r) {
  const run_verdict v = verdict_of(r);
  const char* mark = v.passed() ? "\xE2\x9C\x85" : "\xE2\x9D\x8C";  // check mark, cross mark
  out << "## " << mark << " sigbench " << markdown_escape(r.scenario) << ": " << v.headline() << "\n\n";
  out << r.planned << " peers against " << code(r.target) << ", started " << markdown_escape(r.started_at) << ", "
      << fixed(r.duration_s, 1) << " s; " << fixed(r.join_rate, 1) << " joins/s, " << fixed(r.message_rate, 1)
      << " messages/s.\n\n";
  if (!v.reasons.empty()) {
    for (const auto& reason : v.reasons) out << "- " << markdown_escape(reason) << "\n";
    out << "\n";
  }

  out << "| latency (ms) | p50 | p90 | p99 | p99.9 | max | count |\n|---|--:|--:|--:|--:|--:|--:|\n";
  for (const char* name : latency_names) {
    auto it = r.latency.find(name);
    if (it == r.latency.end()) continue;
    const auto s = summarize(it->second);
    out << "| " << name << " | " << fixed(s.p50, 3) << " | " << fixed(s.p90, 3) << " | " << fixed(s.p99, 3) << " | "
        << fixed(s.p999, 3) << " | " << fixed(s.max, 3) << " | " << s.count << " |\n";
  }
  out << "\n| peers | planned | connected | joined | failed |\n|---|--:|--:|--:|--:|\n| | " << r.planned << " | "
      << r.connected << " | " << r.joined << " | " << r.failed << " |\n";
  out << "\n| messages | sent | received | lost | duplicated | misrouted |\n|---|--:|--:|--:|--:|--:|\n| | " << r.sent
      << " | " << r.received << " | " << r.lost << " | " << r.duplicated << " | " << r.misrouted << " |\n";
  if (!r.failures.empty()) {
    out << "\n| failed peers by reason | count |\n|---|--:|\n";
    for (const auto& [why, n] : r.failures) out << "| " << markdown_escape(why) << " | " << n << " |\n";
  }
  if (!r.errors.empty()) {
    out << "\n| server errors by code | count |\n|---|--:|\n";
    for (const auto& [code_name, n] : r.errors) out << "| " << code(code_name) << " | " << n << " |\n";
  }
  if (!r.verdicts.empty()) {
    out << "\n| | threshold | observed |\n|---|---|---|\n";
    for (const auto& t : r.verdicts)
      out << "| " << (t.ok ? "\xE2\x9C\x85" : "\xE2\x9D\x8C") << " | " << code(t.expr) << " | "
          << markdown_escape(format_observed(t)) << " |\n";
  }
  if (r.baseline) {
    const auto& b = *r.baseline;
    out << "\n**Baseline** " << code(b.file) << " (" << markdown_escape(b.scenario) << ", started "
        << markdown_escape(b.started_at) << "): " << (b.ok() ? "no regression" : std::to_string(b.regressions()) + " regressed")
        << "\n\n| | metric | baseline | now | change | limit |\n|---|---|--:|--:|--:|--:|\n";
    for (const auto& c : b.checks) {
      auto value = [&](const std::optional<double>& x) {
        if (!x) return std::string("-");
        return c.unit == "ms" ? fixed(*x, 3) + " ms" : fixed(*x, 1) + "/s";
      };
      const std::string change =
          c.change_percent ? (*c.change_percent >= 0 ? "+" : "") + fixed(*c.change_percent, 1) + "%" : "-";
      out << "| " << (!c.compared ? "\xE2\x80\x94" : c.ok ? "\xE2\x9C\x85" : "\xE2\x9D\x8C") << " | " << code(c.metric)
          << " | " << value(c.baseline) << " | " << value(c.current) << " | " << change << " | "
          << (c.higher_is_better ? "-" : "+") << fixed(c.limit_percent, 0) << "% |\n";
    }
  }
  out << "\n";
}

}  // namespace sigkit::bench
