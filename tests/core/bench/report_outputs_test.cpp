#include "sigkit/bench/junit.hpp"

#include <catch2/catch.hpp>

#include <cctype>
#include <cstddef>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/bench/report.hpp"
#include "sigkit/bench/summary.hpp"
#include "sigkit/bench/verdict.hpp"
#include "sigkit/websocket/utf8.hpp"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using sigkit::bench::baseline_comparison;
using sigkit::bench::markdown_escape;
using sigkit::bench::outcome;
using sigkit::bench::parse_threshold;
using sigkit::bench::regression_check;
using sigkit::bench::report;
using sigkit::bench::threshold;
using sigkit::bench::verdict_of;
using sigkit::bench::write_junit;
using sigkit::bench::write_markdown_summary;
using sigkit::bench::xml_escape;

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD

std::vector<threshold> thresholds(std::initializer_list<std::string_view> exprs) {
  std::vector<threshold> out;
  for (auto e : exprs) {
    auto t = parse_threshold(e);
    INFO("threshold: " << e);
    if (!t) FAIL("unexpected error: " << t.error().message);
    out.push_back(t.value());
  }
  return out;
}

// A clean run of 100 peers: connect 2 ms, join 5 ms, relays 0.1 ms, nothing
// lost or failed.
report clean_run() {
  report r;
  r.target = "ws://127.0.0.1:8080/ws";
  r.scenario = "smoke";
  r.started_at = "2026-12-01T10:00:00Z";
  r.duration_s = 3.25;
  for (const char* name : {"connect", "join", "relay", "negotiation"})
    r.latency.emplace(name, sigkit::metrics::latency_histogram{});
  for (int i = 0; i < 100; ++i) {
    r.latency["connect"].record(std::uint64_t{2'000'000});
    r.latency["join"].record(std::uint64_t{5'000'000});
    r.latency["negotiation"].record(std::uint64_t{9'000'000});
    for (int m = 0; m < 5; ++m) r.latency["relay"].record(std::uint64_t{100'000});
  }
  r.planned = r.connected = r.joined = 100;
  r.sent = r.received = 500;
  r.join_rate = 33.3;
  r.message_rate = 166.6;
  return r;
}

report evaluated(report r, std::initializer_list<std::string_view> exprs) {
  r.evaluate(thresholds(exprs));
  return r;
}

std::string junit_of(const report& r) {
  std::ostringstream out;
  write_junit(out, r);
  return out.str();
}

std::string summary_of(const report& r) {
  std::ostringstream out;
  write_markdown_summary(out, r);
  return out.str();
}

std::size_t occurrences(std::string_view text, std::string_view what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string_view::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Enough of XML 1.0 to tell whether a CI system's parser would take the
// document: balanced elements, quoted attributes without '<', '&' only in
// the five predefined entities, no control characters, valid UTF-8.
// Returns the first problem, or "" when there is none.
std::string xml_problem(std::string_view doc) {
  if (!sigkit::websocket::is_valid_utf8(doc)) return "not UTF-8";
  for (char ch : doc) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return "a control character";
  }
  if (doc.find("\xEF\xBF\xBE") != std::string_view::npos || doc.find("\xEF\xBF\xBF") != std::string_view::npos)
    return "U+FFFE or U+FFFF";
  auto entity_ok = [&](std::size_t at) {
    for (std::string_view e : {"&lt;", "&gt;", "&amp;", "&quot;", "&apos;"})
      if (doc.substr(at, e.size()) == e) return true;
    return false;
  };
  std::vector<std::string> open;
  std::size_t i = 0;
  if (doc.substr(0, 5) == "<?xml") i = doc.find("?>") + 2;
  bool root_seen = false;
  while (i < doc.size()) {
    if (doc[i] == '&') {
      if (!entity_ok(i)) return "a bare '&' at " + std::to_string(i);
      ++i;
      continue;
    }
    if (doc[i] == '>') return "a bare '>' in text at " + std::to_string(i);
    if (doc[i] != '<') {
      if (open.empty() && doc[i] != '\n' && doc[i] != ' ') return "text outside the root element";
      ++i;
      continue;
    }
    const bool closing = i + 1 < doc.size() && doc[i + 1] == '/';
    std::size_t j = i + (closing ? 2 : 1);
    std::string name;
    while (j < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[j])) || doc[j] == '-' || doc[j] == '_'))
      name += doc[j++];
    if (name.empty()) return "a '<' that starts no tag at " + std::to_string(i);
    // Attributes: name="value" with no '<' and only entities after '&'.
    bool self_closing = false;
    for (;;) {
      while (j < doc.size() && doc[j] == ' ') ++j;
      if (j >= doc.size()) return "an unterminated tag <" + name;
      if (doc[j] == '>') {
        ++j;
        break;
      }
      if (doc[j] == '/' && j + 1 < doc.size() && doc[j + 1] == '>') {
        self_closing = true;
        j += 2;
        break;
      }
      if (closing) return "attributes on a closing tag </" + name;
      auto eq = doc.find('=', j);
      if (eq == std::string_view::npos || eq + 1 >= doc.size() || doc[eq + 1] != '"') return "an unquoted attribute in <" + name;
      auto end = doc.find('"', eq + 2);
      if (end == std::string_view::npos) return "an unterminated attribute in <" + name;
      for (std::size_t k = eq + 2; k < end; ++k) {
        if (doc[k] == '<') return "a '<' in an attribute of <" + name;
        if (doc[k] == '&' && !entity_ok(k)) return "a bare '&' in an attribute of <" + name;
      }
      j = end + 1;
    }
    if (closing) {
      if (open.empty() || open.back() != name) return "</" + name + "> closes nothing open";
      open.pop_back();
    } else if (!self_closing) {
      if (open.empty() && root_seen) return "a second root element <" + name;
      root_seen = true;
      open.push_back(name);
    }
    i = j;
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  if (!root_seen) return "no root element";
  return "";
}

// The cells of a Markdown table row: split at the pipes that are not
// escaped (preceded by an odd number of backslashes).
std::size_t unescaped_pipes(std::string_view line) {
  std::size_t n = 0, backslashes = 0;
  for (char c : line) {
    if (c == '|' && backslashes % 2 == 0) ++n;
    backslashes = c == '\\' ? backslashes + 1 : 0;
  }
  return n;
}

std::string line_with(const std::string& text, std::string_view what) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(what) != std::string::npos) return line;
  FAIL("no line with " << what << " in:\n" << text);
  return {};
}

regression_check check(std::string metric, double baseline, double current, double limit) {
  regression_check c;
  c.metric = std::move(metric);
  c.unit = "ms";
  c.baseline = baseline;
  c.current = current;
  c.change_percent = (current - baseline) / baseline * 100;
  c.limit_percent = limit;
  c.compared = true;
  c.ok = *c.change_percent <= limit;
  return c;
}

}  // namespace

// --- the verdict -------------------------------------------------------------------

TEST_CASE("a run whose thresholds all held passed", "[bench][verdict]") {
  const auto v = verdict_of(evaluated(clean_run(), {"join.p99<20ms", "connect.p50<=5ms"}));
  CHECK(v.result == outcome::passed);
  CHECK(v.passed());
  CHECK(v.headline() == "PASSED");
  CHECK(v.reasons.empty());
  // With no threshold at all, the default rules hold on a clean run.
  CHECK(verdict_of(evaluated(clean_run(), {})).passed());
}

TEST_CASE("a run with a failed threshold failed and says which", "[bench][verdict]") {
  const auto v = verdict_of(evaluated(clean_run(), {"join.p99<20ms", "join.p99<1ms"}));
  CHECK(v.result == outcome::failed);
  CHECK_FALSE(v.passed());
  CHECK(v.headline() == "FAILED");
  REQUIRE(v.reasons.size() == 1);
  CHECK_THAT(v.reasons[0], StartsWith("threshold join.p99<1ms (observed "));
  CHECK_THAT(v.reasons[0], Contains(" ms)"));
}

TEST_CASE("a broken run fails a default rule when no threshold is given", "[bench][verdict]") {
  report r = clean_run();
  r.joined = 97;
  r.failed = 3;
  r.failures["HTTP 503"] = 3;
  r.lost = 2;
  const auto v = verdict_of(evaluated(r, {}));
  CHECK(v.result == outcome::failed);
  REQUIRE(v.reasons.size() == 2);
  CHECK_THAT(v.reasons[0], Contains("failed==0 (default)"));
  CHECK_THAT(v.reasons[0], Contains("observed 3"));
  CHECK_THAT(v.reasons[1], Contains("lost==0 (default)"));

  // A threshold on the metric (for failed, also on joined) says how many are
  // acceptable instead.
  CHECK(verdict_of(evaluated(r, {"failed<=5", "lost<=2"})).passed());
  CHECK(verdict_of(evaluated(r, {"joined>=95%", "lost<=1%"})).passed());
  const auto still = verdict_of(evaluated(r, {"joined>=95"}));
  CHECK(still.result == outcome::failed);
  REQUIRE(still.reasons.size() == 1);
  CHECK_THAT(still.reasons[0], Contains("lost==0 (default)"));
}

TEST_CASE("saturated outranks failed and aborted outranks both", "[bench][verdict]") {
  report r = evaluated(clean_run(), {"join.p99<1ms"});
  r.saturated = true;
  r.late_starts = 12;
  const auto saturated = verdict_of(r);
  CHECK(saturated.result == outcome::saturated);
  CHECK(saturated.headline() == "SATURATED");
  REQUIRE(saturated.reasons.size() == 2);
  CHECK_THAT(saturated.reasons[0], Contains("saturated"));
  CHECK_THAT(saturated.reasons[0], Contains("12 late starts"));
  CHECK_THAT(saturated.reasons[1], StartsWith("threshold join.p99<1ms"));

  r.aborted = "the target is unreachable";
  const auto aborted = verdict_of(r);
  CHECK(aborted.result == outcome::aborted);
  CHECK(aborted.headline() == "ABORTED");
  REQUIRE(aborted.reasons.size() == 3);
  CHECK(aborted.reasons[0] == "the run was aborted: the target is unreachable");
  CHECK_THAT(aborted.reasons[1], Contains("saturated"));
  CHECK_THAT(aborted.reasons[2], StartsWith("threshold join.p99<1ms"));

  // Alone, each is the verdict: a saturated run whose thresholds held is not
  // a pass, nor is an aborted one.
  report only_saturated = evaluated(clean_run(), {"join.p99<20ms"});
  only_saturated.saturated = true;
  CHECK(verdict_of(only_saturated).result == outcome::saturated);
  report only_aborted = evaluated(clean_run(), {"join.p99<20ms"});
  only_aborted.aborted = "interrupted";
  CHECK(verdict_of(only_aborted).result == outcome::aborted);
  CHECK(verdict_of(only_aborted).reasons.size() == 1);
}

TEST_CASE("a regression against the baseline fails the verdict", "[bench][verdict]") {
  report r = evaluated(clean_run(), {"join.p99<20ms"});
  r.baseline = baseline_comparison{"old.json", "2026-11-30T10:00:00Z", "smoke",
                                   {check("join.p99", 4.0, 5.0, 10), check("connect.p99", 2.0, 2.0, 10)}};
  const auto v = verdict_of(r);
  CHECK(v.result == outcome::failed);
  REQUIRE(v.reasons.size() == 1);
  CHECK_THAT(v.reasons[0], StartsWith("regressed against the baseline: join.p99 4.000 ms -> 5.000 ms"));
}

// --- JUnit XML ----------------------------------------------------------------------

TEST_CASE("JUnit: each threshold is a test case and a failing one has a failure", "[bench][junit]") {
  const report r = evaluated(clean_run(), {"join.p99<20ms", "connect.p99<1ms"});
  const std::string xml = junit_of(r);
  INFO(xml);
  CHECK(xml_problem(xml) == "");
  CHECK_THAT(xml, StartsWith("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites"));

  // run completed, generator, 2 thresholds, 4 default rules.
  CHECK_THAT(xml, Contains("<testsuites name=\"sigbench\" tests=\"8\" failures=\"1\" errors=\"0\" time=\"3.250\">"));
  CHECK_THAT(xml, Contains("<testsuite name=\"sigbench: smoke\" tests=\"8\" failures=\"1\" errors=\"0\" skipped=\"0\" "
                           "time=\"3.250\" timestamp=\"2026-12-01T10:00:00\""));
  CHECK(occurrences(xml, "<testcase ") == 8);
  CHECK(occurrences(xml, "<failure ") == 1);
  CHECK_THAT(xml, Contains("classname=\"sigbench.smoke\" name=\"run completed\""));
  CHECK_THAT(xml, Contains("classname=\"sigbench.smoke\" name=\"generator kept its schedule\""));
  CHECK_THAT(xml, Contains("<testcase classname=\"sigbench.smoke.thresholds\" name=\"join.p99&lt;20ms\" time=\"0.000\"/>"));
  CHECK_THAT(xml, Contains("<testcase classname=\"sigbench.smoke.thresholds\" name=\"connect.p99&lt;1ms\" time=\"0.000\">\n"
                           "      <failure message=\"connect.p99&lt;1ms (observed "));
  CHECK_THAT(xml, Contains("type=\"threshold\">observed "));
  CHECK_THAT(xml, Contains("name=\"failed==0 (default)\""));
  CHECK_THAT(xml, Contains("name=\"misrouted==0 (default)\""));
  // Nothing unescaped, in the attributes or in the text report beside them.
  CHECK(xml.find("p99<") == std::string::npos);
  CHECK_THAT(xml, Contains("<property name=\"joined\" value=\"100\"/>"));
  CHECK_THAT(xml, Contains("<system-out>"));
}

TEST_CASE("JUnit: an aborted run is an error and a saturated generator a failure", "[bench][junit]") {
  report r = evaluated(clean_run(), {"join.p99<20ms"});
  r.aborted = "connect refused \x01 <again>";
  r.saturated = true;
  r.late_starts = 40;
  r.worst_lag_ms = 1500;
  const std::string xml = junit_of(r);
  INFO(xml);
  CHECK(xml_problem(xml) == "");
  CHECK_THAT(xml, Contains("tests=\"7\" failures=\"1\" errors=\"1\""));
  CHECK_THAT(xml, Contains("<error message=\"the run was aborted: connect refused " + std::string(replacement) +
                           " &lt;again&gt;\" type=\"aborted\"/>"));
  CHECK_THAT(xml, Contains("<failure message=\"the generator saturated: 40 late starts (worst lag 1.500 s)"));
  CHECK_THAT(xml, Contains("type=\"saturated\""));
}

TEST_CASE("JUnit: the baseline's checks are test cases and skipped when not compared", "[bench][junit]") {
  report r = evaluated(clean_run(), {"join.p99<20ms"});
  regression_check not_compared;
  not_compared.metric = "relay.p99";
  not_compared.unit = "ms";
  not_compared.current = 0.1;
  not_compared.limit_percent = 10;
  r.baseline = baseline_comparison{"base & old.json", "2026-11-30T10:00:00Z", "smoke",
                                   {check("join.p99", 4.0, 5.0, 12.5), check("connect.p99", 2.0, 2.0, 10), not_compared}};
  const std::string xml = junit_of(r);
  INFO(xml);
  CHECK(xml_problem(xml) == "");
  CHECK_THAT(xml, Contains("tests=\"10\" failures=\"1\" errors=\"0\" skipped=\"1\""));
  CHECK_THAT(xml, Contains("classname=\"sigbench.smoke.baseline\" name=\"join.p99 within +12.5% of the baseline\""));
  CHECK_THAT(xml, Contains("name=\"connect.p99 within +10% of the baseline\" time=\"0.000\"/>"));
  CHECK_THAT(xml, Contains("type=\"regression\">baseline base &amp; old.json (started 2026-11-30T10:00:00Z)</failure>"));
  CHECK_THAT(xml, Contains("<skipped message=\"relay.p99 nothing -&gt; 0.100 ms (not compared"));
}

TEST_CASE("JUnit: names from the scenario and the server are escaped", "[bench][junit]") {
  report r = evaluated(clean_run(), {"errors.room-full==0"});
  r.scenario = "a<b & \"c\" 'd'";
  r.target = "ws://h/ws?x=1&y=<2>";
  r.errors["bad\x02code"] = 1;
  r.failures["HTTP 503 \xC3\x28 broken"] = 1;
  const std::string xml = junit_of(r);
  INFO(xml);
  CHECK(xml_problem(xml) == "");
  CHECK_THAT(xml, Contains("<testsuite name=\"sigbench: a&lt;b &amp; &quot;c&quot; &apos;d&apos;\""));
  CHECK_THAT(xml, Contains("<property name=\"target\" value=\"ws://h/ws?x=1&amp;y=&lt;2&gt;\"/>"));
}

TEST_CASE("xml_escape escapes markup and replaces what XML cannot hold", "[bench][junit]") {
  CHECK(xml_escape("plain text 1.5") == "plain text 1.5");
  CHECK(xml_escape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
  CHECK(xml_escape("join.p99<20ms") == "join.p99&lt;20ms");
  CHECK(xml_escape("tab\tnewline\ncr\r") == "tab\tnewline\ncr\r");
  CHECK(xml_escape(std::string_view("nul\0!", 5)) == "nul" + std::string(replacement) + "!");
  for (int c = 1; c < 0x20; ++c) {
    if (c == '\t' || c == '\n' || c == '\r') continue;
    INFO("control character " << c);
    CHECK(xml_escape(std::string(1, static_cast<char>(c))) == replacement);
  }
  // Valid UTF-8 passes through, from two bytes to four.
  CHECK(xml_escape("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  // Invalid UTF-8 does not: each bad byte becomes U+FFFD.
  const std::string r(replacement);
  CHECK(xml_escape("\xFF") == r);
  CHECK(xml_escape("a\x80z") == "a" + r + "z");                  // a stray continuation byte
  CHECK(xml_escape("a\xC3") == "a" + r);                         // cut short at the end
  CHECK(xml_escape("\xC3(") == r + "(");                         // cut short by ASCII
  CHECK(xml_escape("\xE2\x82(") == r + r + "(");                 // a three-byte form cut short
  CHECK(xml_escape("\xC0\xAF") == r + r);                        // overlong '/'
  CHECK(xml_escape("\xED\xA0\x80") == r + r + r);                // a surrogate
  CHECK(xml_escape("\xF4\x90\x80\x80") == r + r + r + r);        // above U+10FFFF
  CHECK(xml_escape("\xF8\x88\x80\x80\x80") == r + r + r + r + r);  // no such lead byte
  // XML 1.0 §2.2 has no U+FFFE or U+FFFF either.
  CHECK(xml_escape("\xEF\xBF\xBE") == r);
  CHECK(xml_escape("\xEF\xBF\xBF") == r);
  CHECK(xml_escape("\xEF\xBF\xBD") == r);  // U+FFFD itself is fine
  // Whatever goes in, what comes out is valid UTF-8.
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  CHECK(sigkit::websocket::is_valid_utf8(xml_escape(every_byte)));
  CHECK(xml_problem("<x a=\"" + xml_escape(every_byte) + "\">" + xml_escape(every_byte) + "</x>") == "");
}

// --- the Markdown summary ---------------------------------------------------------------

TEST_CASE("the Markdown summary leads with the verdict", "[bench][summary]") {
  const std::string passed = summary_of(evaluated(clean_run(), {"join.p99<20ms"}));
  INFO(passed);
  CHECK_THAT(passed, StartsWith("## \xE2\x9C\x85 sigbench smoke: PASSED\n"));
  CHECK_THAT(passed, Contains("100 peers against `ws://127.0.0.1:8080/ws`, started 2026-12-01T10:00:00Z, "));
  CHECK_THAT(passed, Contains("| join | 5.0"));
  CHECK_THAT(passed, Contains("| \xE2\x9C\x85 | `join.p99<20ms` | 5.0"));
  CHECK(passed.find("- ") == std::string::npos);  // no reasons

  const std::string failed = summary_of(evaluated(clean_run(), {"join.p99<1ms"}));
  INFO(failed);
  CHECK_THAT(failed, StartsWith("## \xE2\x9D\x8C sigbench smoke: FAILED\n"));
  // The reasons come right after the opening lines, before the tables.
  const auto reason = failed.find("- threshold join.p99\\<1ms (observed ");
  REQUIRE(reason != std::string::npos);
  CHECK(reason < failed.find("| latency (ms)"));
  CHECK_THAT(failed, Contains("| \xE2\x9D\x8C | `join.p99<1ms` |"));

  report aborted = evaluated(clean_run(), {});
  aborted.aborted = "interrupted";
  CHECK_THAT(summary_of(aborted), StartsWith("## \xE2\x9D\x8C sigbench smoke: ABORTED\n"));
}

TEST_CASE("the Markdown summary keeps each table cell in its column", "[bench][summary]") {
  report r = clean_run();
  r.scenario = "smoke|*bold*";
  r.target = "ws://h/ws?a=|b|";
  r.joined = 98;
  r.failed = 2;
  r.failures["HTTP 503 | busy\nnext line"] = 2;
  r.errors["weird|code"] = 1;
  r.evaluate(thresholds({"join.p99<20ms"}));
  r.baseline = baseline_comparison{"old|run.json", "2026-11-30T10:00:00Z", "smoke|old", {check("join.p99", 4.0, 5.0, 10)}};
  const std::string md = summary_of(r);
  INFO(md);
  CHECK_THAT(md, StartsWith("## \xE2\x9D\x8C sigbench smoke\\|\\*bold\\*: FAILED\n"));
  CHECK(unescaped_pipes(line_with(md, "peers against")) == 0);

  const std::string failure_row = line_with(md, "HTTP 503");
  CHECK(failure_row == "| HTTP 503 \\| busy next line | 2 |");
  CHECK(unescaped_pipes(failure_row) == 3);
  const std::string error_row = line_with(md, "weird");
  CHECK(error_row == "| `weird\\|code` | 1 |");
  CHECK(unescaped_pipes(error_row) == 3);
  CHECK(unescaped_pipes(line_with(md, "**Baseline**")) == 0);
  // Every row of a table has as many cells as its header.
  std::istringstream lines(md);
  std::string line;
  std::size_t columns = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '|') {
      columns = 0;
      continue;
    }
    INFO("row: " << line);
    if (columns == 0) columns = unescaped_pipes(line);
    else CHECK(unescaped_pipes(line) == columns);
  }
}

TEST_CASE("markdown_escape escapes markup and folds newlines", "[bench][summary]") {
  CHECK(markdown_escape("plain text, 1.5 ms") == "plain text, 1.5 ms");
  CHECK(markdown_escape("a|b") == "a\\|b");
  CHECK(markdown_escape("*bold* _it_ `code` [link](x) <b> # ~s~ \\") ==
        "\\*bold\\* \\_it\\_ \\`code\\` \\[link\\](x) \\<b\\> \\# \\~s\\~ \\\\");
  CHECK(markdown_escape("one\ntwo\r\nthree") == "one two  three");
  CHECK(markdown_escape("a\\|b") == "a\\\\\\|b");
  CHECK(unescaped_pipes(markdown_escape("|a\\|b\\\\|")) == 0);
}
