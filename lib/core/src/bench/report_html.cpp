// The HTML report: one self-contained page (inline SVG, no script needed to
// read it) that leads with the verdict, then says why, then shows the
// figures. The JSON report rides along in a script element for tools.
#include <algorithm>
#include <cmath>
#include <vector>

#include "report_parts.hpp"
#include "sigkit/bench/report.hpp"
#include "sigkit/bench/verdict.hpp"

namespace sigkit::bench {
namespace {

std::string escape_html(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// A number as an axis label: no more digits than it needs.
std::string label(double v) {
  if (v == 0) return "0";
  int decimals = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
  auto text = fixed(v, decimals);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

// 1, 2 or 5 times a power of ten: the step of about `ticks` gridlines up to `top`.
double nice_step(double top, int ticks) {
  double raw = top / ticks;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (raw <= m * power) return m * power;
  return 10 * power;
}

// An SVG plot area with margins for the axis labels, so that no label is
// clipped and no line runs over the legend (which sits above, in HTML).
struct plot {
  double width = 640, height = 240, left = 56, right = 24, top = 12, bottom = 36;
  double x_max = 1, y_max = 1;

  double x(double v) const { return left + v / x_max * (width - left - right); }
  double y(double v) const { return height - bottom - v / y_max * (height - top - bottom); }

  void open(std::ostream& out, const std::string& aria) const {
    out << "<svg width=" << width << " height=" << height << " role=img aria-label='" << escape_html(aria)
        << "' font-size=11>";
  }
  // Horizontal gridlines with their values, and the y axis's name.
  void y_axis(std::ostream& out, const std::string& name) {
    double step = nice_step(y_max, 4);
    y_max = std::max(y_max, step);
    y_max = std::ceil(y_max / step - 1e-9) * step;
    for (double v = 0; v <= y_max + step / 2; v += step)
      out << "<line x1=" << left << " x2=" << width - right << " y1=" << fixed(y(v), 1) << " y2=" << fixed(y(v), 1)
          << " stroke=#e3e3e3 /><text x=" << left - 6 << " y=" << fixed(y(v) + 4, 1) << " text-anchor=end>"
          << label(v) << "</text>";
    out << "<text x=12 y=" << fixed((top + height - bottom) / 2, 1) << " text-anchor=middle transform='rotate(-90 12 "
        << fixed((top + height - bottom) / 2, 1) << ")'>" << escape_html(name) << "</text>";
  }
  void x_label(std::ostream& out, double at, const std::string& text) const {
    out << "<line x1=" << fixed(x(at), 1) << " x2=" << fixed(x(at), 1) << " y1=" << height - bottom
        << " y2=" << height - bottom + 4 << " stroke=#999 /><text x=" << fixed(x(at), 1) << " y=" << height - bottom + 16
        << " text-anchor=middle>" << escape_html(text) << "</text>";
  }
  void x_name(std::ostream& out, const std::string& name) const {
    out << "<text x=" << fixed((left + width - right) / 2, 1) << " y=" << height - 4 << " text-anchor=middle>"
        << escape_html(name) << "</text>";
  }
  void frame(std::ostream& out) const {
    out << "<line x1=" << left << " x2=" << width - right << " y1=" << height - bottom << " y2=" << height - bottom
        << " stroke=#999 /><line x1=" << left << " x2=" << left << " y1=" << top << " y2=" << height - bottom
        << " stroke=#999 />";
  }
};

void legend(std::ostream& out, std::initializer_list<std::pair<const char*, const char*>> entries) {
  out << "<p class=legend>";
  for (auto [name, color] : entries) out << "<span style='background:" << color << "'></span>" << name << " ";
  out << "</p>";
}

std::string polyline(const std::vector<std::pair<double, double>>& points, const char* color) {
  std::string out = "<polyline fill=none stroke='" + std::string(color) + "' stroke-width=2 points='";
  for (auto [x, y] : points) out += fixed(x, 1) + "," + fixed(y, 1) + " ";
  return out + "'/>";
}

void verdict_banner(std::ostream& out, const report& r) {
  auto v = verdict_of(r);
  out << "<section class='verdict " << (v.passed() ? "pass" : "fail") << "'><strong>" << v.headline()
      << "</strong>";
  if (v.reasons.empty()) out << " every threshold held";
  else {
    out << "<ul>";
    for (const auto& reason : v.reasons) out << "<li>" << escape_html(reason);
    out << "</ul>";
  }
  out << "</section>\n";
}

void counts(std::ostream& out, const report& r) {
  out << "<table class=counts><tr><th>peers<td>planned " << r.planned << "<td>connected " << r.connected
      << "<td>joined " << r.joined << "<td" << (r.failed ? " class=fail" : "") << ">failed " << r.failed
      << "<tr><th>relays<td>sent " << r.sent << "<td>received " << r.received << "<td"
      << (r.lost ? " class=fail" : "") << ">lost " << r.lost << "<td"
      << (r.duplicated || r.misrouted ? " class=fail" : "") << ">duplicated " << r.duplicated << ", misrouted "
      << r.misrouted << "<tr><th>throughput<td colspan=4>" << fixed(r.join_rate, 1) << " joins/s, "
      << fixed(r.message_rate, 1) << " relays/s</table>\n";
  auto table = [&](const char* title, const char* what, const std::map<std::string, std::uint64_t>& rows) {
    if (rows.empty()) return;
    out << "<h2>" << title << "</h2><table><tr><th>" << what << "<th>peers";
    for (const auto& [key, n] : rows) out << "<tr><td>" << escape_html(key) << "<td>" << n;
    out << "</table>\n";
  };
  table("Why peers failed", "reason", r.failures);
  table("Server errors by code", "code", r.errors);
}

void latency_table(std::ostream& out, const report& r) {
  out << "<h2>Latency (ms)</h2><table><tr><th>metric<th>p50<th>p90<th>p99<th>p99.9<th>max<th>mean<th>count";
  for (auto name : latency_names) {
    const auto* h = find_latency(r, name);
    if (!h) continue;
    auto s = summarize(*h);
    out << "<tr><td>" << name << "<td>" << fixed(s.p50, 3) << "<td>" << fixed(s.p90, 3) << "<td>" << fixed(s.p99, 3)
        << "<td>" << fixed(s.p999, 3) << "<td>" << fixed(s.max, 3) << "<td>" << fixed(s.mean, 3) << "<td>" << s.count;
  }
  out << "</table>\n";
}

// Latency by percentile on HdrHistogram's axis, log10(1 / (1 - p)): each
// "nine" gets the same width, so the tail is as readable as the median and
// the labels (one per nine) never overlap.
void percentile_charts(std::ostream& out, const report& r) {
  constexpr double nines = 5;  // up to 99.999%
  bool any = false;
  for (auto name : latency_names) {
    const auto* h = find_latency(r, name);
    if (!h || h->empty()) continue;
    if (!any) out << "<h2>Latency by percentile</h2>";
    any = true;
    plot p;
    p.x_max = nines;
    p.y_max = std::max(static_cast<double>(h->max()) / 1e6, 0.001);
    out << "<h3>" << name << "</h3>";
    p.open(out, std::string(name) + " latency by percentile");
    p.y_axis(out, "ms");
    std::vector<std::pair<double, double>> points;
    for (double x = 0; x <= nines + 1e-9; x += 0.05) {
      double percentile = 100.0 * (1.0 - std::pow(10.0, -x));
      points.emplace_back(p.x(x), p.y(static_cast<double>(h->value_at_percentile(percentile)) / 1e6));
    }
    out << polyline(points, "#2364aa");
    const char* labels[] = {"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"};
    for (int i = 0; i <= nines; ++i) p.x_label(out, i, labels[i]);
    p.x_name(out, "percentile");
    p.frame(out);
    out << "</svg>\n";
  }
}

void throughput_chart(std::ostream& out, const report& r) {
  out << "<h2>Throughput</h2>";
  legend(out, {{"joins/s", "#2364aa"}, {"relays/s", "#d1495b"}});
  plot p;
  p.y_max = 1;
  for (const auto& t : r.timeline) p.y_max = std::max({p.y_max, t.joins_per_s, t.messages_per_s});
  if (r.timeline.size() < 2) {
    // Too short for a line: the whole run's rates, as two bars.
    p.y_max = std::max({1.0, r.join_rate, r.message_rate});
    p.x_max = 2;
    p.open(out, "throughput of the run");
    p.y_axis(out, "per second");
    for (auto [i, v, color] : {std::tuple{0, r.join_rate, "#2364aa"}, std::tuple{1, r.message_rate, "#d1495b"}})
      out << "<rect x=" << fixed(p.x(i + 0.25), 1) << " width=" << fixed(p.x(0.5) - p.x(0), 1) << " y="
          << fixed(p.y(v), 1) << " height=" << fixed(p.y(0) - p.y(v), 1) << " fill='" << color << "'/>";
    p.x_label(out, 0.5, "joins/s (whole run)");
    p.x_label(out, 1.5, "relays/s (whole run)");
  } else {
    p.x_max = std::max(r.timeline.back().t_s, 1.0);
    p.open(out, "throughput over time");
    p.y_axis(out, "per second");
    std::vector<std::pair<double, double>> joins, relays;
    for (const auto& t : r.timeline) {
      joins.emplace_back(p.x(t.t_s), p.y(t.joins_per_s));
      relays.emplace_back(p.x(t.t_s), p.y(t.messages_per_s));
    }
    out << polyline(joins, "#2364aa") << polyline(relays, "#d1495b");
    double step = nice_step(p.x_max, 6);
    for (double t = 0; t <= p.x_max + 1e-9; t += step) p.x_label(out, t, label(t));
    p.x_name(out, "seconds since the start");
  }
  p.frame(out);
  out << "</svg>\n";
}

void capacity_chart(std::ostream& out, const capacity_result& c) {
  out << "<h2>Capacity: " << escape_html(c.condition) << "</h2><p>";
  if (c.highest_rate) out << "Held up to <strong>" << label(*c.highest_rate) << " arrivals/s</strong>; ";
  else out << "No rate held; ";
  out << "the search ended because " << escape_html(c.ended) << ".</p>";
  plot p;
  p.x_max = 1;
  p.y_max = 0.001;
  for (const auto& s : c.steps) {
    p.x_max = std::max(p.x_max, s.rate);
    if (s.observed) p.y_max = std::max(p.y_max, *s.observed);
  }
  legend(out, {{"held", "#2364aa"}, {"broke or saturated", "#d1495b"}});
  p.open(out, "capacity curve");
  p.y_axis(out, c.condition.substr(0, c.condition.find_first_of("<>=!")) + (c.unit.empty() ? "" : " (" + c.unit + ")"));
  std::vector<std::pair<double, double>> curve;
  for (const auto& s : c.steps)
    if (s.observed) curve.emplace_back(p.x(s.rate), p.y(*s.observed));
  out << polyline(curve, "#999");
  for (const auto& s : c.steps)
    if (s.observed)
      out << "<circle cx=" << fixed(p.x(s.rate), 1) << " cy=" << fixed(p.y(*s.observed), 1) << " r=4 fill='"
          << (s.held ? "#2364aa" : "#d1495b") << "'><title>" << label(s.rate) << "/s: " << label(*s.observed)
          << (c.unit.empty() ? "" : " " + c.unit) << "</title></circle>";
  double step = nice_step(p.x_max, 6);
  for (double v = 0; v <= p.x_max + 1e-9; v += step) p.x_label(out, v, label(v));
  p.x_name(out, "arrival rate (peers/s)");
  p.frame(out);
  out << "</svg>\n<table><tr><th>rate/s<th>joins/s<th>observed<th>verdict";
  for (const auto& s : c.steps)
    out << "<tr><td>" << label(s.rate) << "<td>" << fixed(s.join_rate, 1) << "<td>"
        << (s.observed ? label(*s.observed) + (c.unit.empty() ? "" : " " + c.unit) : "-") << "<td>"
        << (s.held ? "held" : s.saturated ? "generator saturated" : escape_html("broke: " + s.broke));
  out << "</table>\n";
}

void thresholds(std::ostream& out, const report& r) {
  if (r.verdicts.empty()) return;
  out << "<h2>Thresholds</h2><table><tr><th>verdict<th>rule<th>observed";
  for (const auto& v : r.verdicts)
    out << "<tr class=" << (v.ok ? "pass" : "fail") << "><td>" << (v.ok ? "pass" : "FAIL") << "<td><code>"
        << escape_html(v.expr) << "</code><td>" << escape_html(format_observed(v));
  out << "</table>\n";
}

void baseline(std::ostream& out, const baseline_comparison& b) {
  out << "<h2>Against the baseline</h2><p><code>" << escape_html(b.file) << "</code>, run "
      << escape_html(b.started_at) << "</p><table><tr><th>verdict<th>comparison";
  for (const auto& c : b.checks)
    out << "<tr class=" << (c.ok ? "pass" : "fail") << "><td>" << (!c.compared ? "-" : c.ok ? "pass" : "FAIL")
        << "<td>" << escape_html(c.describe());
  out << "</table>\n";
}

}  // namespace

void write_html(std::ostream& out, const report& r) {
  out << "<!doctype html><html lang=en><meta charset=utf-8><title>sigbench: " << escape_html(r.scenario)
      << "</title><style>body{font:14px system-ui,sans-serif;margin:2em;max-width:62em}"
         "table{border-collapse:collapse;margin:4px 0}td,th{padding:2px 10px;text-align:right}"
         "th:first-child,td:first-child{text-align:left}svg{background:#fcfcfc;border:1px solid #ddd}"
         ".fail{color:#b00}.pass{color:#070}.verdict{padding:8px 14px;border-radius:4px;font-size:16px}"
         ".verdict.pass{background:#e6f4e6}.verdict.fail{background:#fbe7e7}.verdict ul{margin:4px 0 0}"
         ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;vertical-align:middle}"
         "</style>\n";
  out << "<h1>sigbench: " << escape_html(r.scenario) << "</h1>";
  verdict_banner(out, r);
  out << "<p>" << r.planned << " peers against <code>" << escape_html(r.target) << "</code>, started "
      << escape_html(r.started_at) << ", " << fixed(r.duration_s, 1) << " s, " << r.threads
      << " generator threads.</p>\n";
  counts(out, r);
  thresholds(out, r);
  if (r.baseline) baseline(out, *r.baseline);
  if (r.capacity) capacity_chart(out, *r.capacity);
  latency_table(out, r);
  percentile_charts(out, r);
  throughput_chart(out, r);
  // Script content is not entity-decoded: the JSON goes in as it is, with
  // "</" written "<\/" (the same string to JSON) so it cannot end the element.
  // A failure reason may quote a server that sent broken UTF-8.
  auto data = to_json(r).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  for (auto at = data.find("</"); at != std::string::npos; at = data.find("</", at + 3)) data.insert(at + 1, "\\");
  out << "<script type=application/json id=report>" << data << "</script></html>\n";
}

}  // namespace sigkit::bench
