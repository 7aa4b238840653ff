#include "sigkit/bench/junit.hpp"

#include <cstdio>
#include <sstream>

#include <unistd.h>

#include "sigkit/websocket/utf8.hpp"

namespace sigkit::bench {

namespace {

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", s < 0 ? 0.0 : s);
  return buf;
}

// "10", "12.5": a limit as a person writes it.
std::string percent_text(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", p);
  std::string text = buf;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text;
}

std::string attribute(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + xml_escape(value) + "\"";
}

struct test_case {
  std::string classname;
  std::string name;
  double time_s = 0;
  // At most one of these.
  std::string failure_message = {}, failure_type = {}, failure_text = {};
  std::string error_message = {}, error_type = {};
  std::string skipped_message = {};
};

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  constexpr std::string_view replacement = "\xEF\xBF\xBD";  // U+FFFD
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      switch (c) {
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '&': out += "&amp;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        case '\t': case '\n': case '\r': out += static_cast<char>(c); break;
        default:
          if (c < 0x20 || c == 0x7f) out += replacement;  // not allowed in XML 1.0
          else out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const std::size_t length = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    const std::string_view sequence = text.substr(i, length);
    // XML 1.0 §2.2 leaves out U+FFFE and U+FFFF, valid UTF-8 as they are:
    // one character, one replacement.
    if (sequence == "\xEF\xBF\xBE" || sequence == "\xEF\xBF\xBF") {
      out += replacement;
      i += length;
      continue;
    }
    if (length > 1 && sequence.size() == length && websocket::is_valid_utf8(sequence)) {
      out += sequence;
      i += length;
    } else {
      out += replacement;
      ++i;
    }
  }
  return out;
}

void write_junit(std::ostream& out, const report& r) {
  const std::string scenario = r.scenario.empty() ? "run" : r.scenario;
  const std::string suite_class = "sigbench." + scenario;
  std::vector<test_case> cases;

  test_case run{suite_class, "run completed", r.duration_s};
  if (r.aborted) {
    run.error_message = "the run was aborted: " + *r.aborted;
    run.error_type = "aborted";
  }
  cases.push_back(run);
  test_case generator{suite_class, "generator kept its schedule", 0};
  if (r.saturated) {
    generator.failure_message = "the generator saturated: " + std::to_string(r.late_starts) +
                                " late starts (worst lag " + seconds_text(r.worst_lag_ms / 1000) +
                                " s); its figures understate the server";
    generator.failure_type = "saturated";
  }
  cases.push_back(generator);
  for (const auto& v : r.verdicts) {
    test_case t{suite_class + ".thresholds", v.expr, 0};
    if (!v.ok) {
      t.failure_message = describe(v);
      t.failure_type = "threshold";
      t.failure_text = "observed " + format_observed(v);
    }
    cases.push_back(std::move(t));
  }
  if (r.baseline) {
    for (const auto& c : r.baseline->checks) {
      test_case t{suite_class + ".baseline", c.metric + " within " + (c.higher_is_better ? "-" : "+") +
                                                  percent_text(c.limit_percent) + "% of the baseline", 0};
      if (!c.compared) t.skipped_message = c.describe();
      else if (!c.ok) {
        t.failure_message = c.describe();
        t.failure_type = "regression";
        t.failure_text = "baseline " + r.baseline->file + " (started " + r.baseline->started_at + ")";
      }
      cases.push_back(std::move(t));
    }
  }

  std::size_t failures = 0, errors = 0, skipped = 0;
  for (const auto& t : cases) {
    failures += !t.failure_message.empty();
    errors += !t.error_message.empty();
    skipped += !t.skipped_message.empty();
  }
  char host[256] = "localhost";
  if (gethostname(host, sizeof host) != 0) std::snprintf(host, sizeof host, "localhost");
  host[sizeof host - 1] = '\0';
  // xs:dateTime without a zone, as JUnit's schema has it.
  std::string timestamp = r.started_at;
  if (!timestamp.empty() && timestamp.back() == 'Z') timestamp.pop_back();

  out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out << "<testsuites" << attribute("name", "sigbench") << attribute("tests", std::to_string(cases.size()))
      << attribute("failures", std::to_string(failures)) << attribute("errors", std::to_string(errors))
      << attribute("time", seconds_text(r.duration_s)) << ">\n";
  out << "  <testsuite" << attribute("name", "sigbench: " + scenario) << attribute("tests", std::to_string(cases.size()))
      << attribute("failures", std::to_string(failures)) << attribute("errors", std::to_string(errors))
      << attribute("skipped", std::to_string(skipped)) << attribute("time", seconds_text(r.duration_s));
  if (!timestamp.empty()) out << attribute("timestamp", timestamp);
  out << attribute("hostname", host) << ">\n";
  out << "    <properties>\n";
  const std::pair<std::string, std::string> properties[] = {
      {"target", r.target},
      {"planned", std::to_string(r.planned)},
      {"connected", std::to_string(r.connected)},
      {"joined", std::to_string(r.joined)},
      {"failed", std::to_string(r.failed)},
      {"sent", std::to_string(r.sent)},
      {"received", std::to_string(r.received)},
      {"lost", std::to_string(r.lost)},
      {"errors", std::to_string(r.error_total())},
  };
  for (const auto& [name, value] : properties)
    out << "      <property" << attribute("name", name) << attribute("value", value) << "/>\n";
  out << "    </properties>\n";
  for (const auto& t : cases) {
    out << "    <testcase" << attribute("classname", t.classname) << attribute("name", t.name)
        << attribute("time", seconds_text(t.time_s));
    if (t.failure_message.empty() && t.error_message.empty() && t.skipped_message.empty()) {
      out << "/>\n";
      continue;
    }
    out << ">\n";
    if (!t.failure_message.empty())
      out << "      <failure" << attribute("message", t.failure_message) << attribute("type", t.failure_type) << ">"
          << xml_escape(t.failure_text) << "</failure>\n";
    if (!t.error_message.empty())
      out << "      <error" << attribute("message", t.error_message) << attribute("type", t.error_type) << "/>\n";
    if (!t.skipped_message.empty()) out << "      <skipped" << attribute("message", t.skipped_message) << "/>\n";
    out << "    </testcase>\n";
  }
  std::ostringstream text;
  write_text(text, r);
  out << "    <system-out>" << xml_escape(text.str()) << "</system-out>\n";
  out << "  </testsuite>\n</testsuites>\n";
}

}  // namespace sigkit::bench
