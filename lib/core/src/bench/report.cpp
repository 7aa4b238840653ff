#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "sigkit/bench/report.hpp"

#include "report_parts.hpp"

namespace sigkit::bench {
namespace {

using json = nlohmann::json;

json stats_json(const latency_stats& s) {
  return {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"p999", s.p999},
          {"max", s.max}, {"mean", s.mean}, {"count", s.count}};
}

// A verdict as the JSON report lists it: the number compared (a share in
// percent for `joined>=99.9%`), its unit, and the same as text.
json threshold_json(const threshold_verdict& v) {
  json t = {{"expr", v.expr}, {"value", v.observed ? json(*v.observed) : json(nullptr)}, {"ok", v.ok},
            {"observed", format_observed(v)}};
  if (!v.relative_to.empty()) {
    t["unit"] = "%";
    t["relative_to"] = v.relative_to;
    t["count"] = v.count ? json(*v.count) : json(nullptr);
    t["of"] = v.of ? json(*v.of) : json(nullptr);
  } else {
    t["unit"] = v.kind == metric_kind::latency ? "ms" : v.kind == metric_kind::rate ? "/s" : "";
  }
  return t;
}

// Counts per power-of-two millisecond band, for the text and HTML charts.
struct band {
  double upper_ms;
  std::uint64_t count;
};
std::vector<band> bands(const metrics::latency_histogram& h) {
  std::vector<band> out;
  for (auto b : h.buckets()) {
    double ms = static_cast<double>(b.highest_ns) / 1e6;
    double upper = std::pow(2.0, std::ceil(std::log2(std::max(ms, 0.001))));
    if (out.empty() || out.back().upper_ms < upper) out.push_back({upper, 0});
    out.back().count += b.count;
  }
  return out;
}

}  // namespace

latency_stats summarize(const metrics::latency_histogram& h) {
  latency_stats s;
  s.count = h.count();
  if (s.count == 0) return s;
  auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  s.p50 = ms(h.value_at_percentile(50));
  s.p90 = ms(h.value_at_percentile(90));
  s.p99 = ms(h.value_at_percentile(99));
  s.p999 = ms(h.value_at_percentile(99.9));
  s.max = ms(h.max());
  s.mean = h.mean() / 1e6;
  return s;
}

std::uint64_t report::error_total() const {
  std::uint64_t total = 0;
  for (const auto& [code, n] : errors) total += n;
  return total;
}

std::optional<double> report::metric(std::string_view name) const {
  auto dot = name.find('.');
  if (dot != std::string_view::npos) {
    std::string head(name.substr(0, dot));
    auto tail = name.substr(dot + 1);
    if (head == "errors") {
      auto it = errors.find(std::string(tail));
      return it == errors.end() ? 0.0 : static_cast<double>(it->second);
    }
    const auto* h = find_latency(*this, head);
    if (!h) return std::nullopt;
    auto s = summarize(*h);
    if (tail == "count") return static_cast<double>(s.count);
    if (s.count == 0) return std::nullopt;  // a percentile of nothing is not zero
    if (tail == "p50") return s.p50;
    if (tail == "p90") return s.p90;
    if (tail == "p99") return s.p99;
    if (tail == "p999") return s.p999;
    if (tail == "max") return s.max;
    if (tail == "mean") return s.mean;
    return std::nullopt;
  }
  const std::pair<std::string_view, double> plain[] = {
      {"planned", static_cast<double>(planned)},       {"connected", static_cast<double>(connected)},
      {"joined", static_cast<double>(joined)},         {"failed", static_cast<double>(failed)},
      {"sent", static_cast<double>(sent)},             {"received", static_cast<double>(received)},
      {"lost", static_cast<double>(lost)},             {"duplicated", static_cast<double>(duplicated)},
      {"misrouted", static_cast<double>(misrouted)},   {"errors", static_cast<double>(error_total())},
      {"late_starts", static_cast<double>(late_starts)}, {"join_rate", join_rate},
      {"message_rate", message_rate}};
  for (const auto& [key, value] : plain)
    if (key == name) return value;
  return std::nullopt;
}

void report::evaluate(const std::vector<threshold>& thresholds) {
  verdicts.clear();
  auto lookup = [this](std::string_view m) { return metric(m); };
  for (const auto& t : thresholds) verdicts.push_back(bench::evaluate(t, lookup));
  // A run with failed peers or lost, duplicated or misrouted messages fails
  // even with no rule given, so that CI never passes a broken run for want of
  // one; a threshold on the metric (or, for failed, on joined) says how many
  // are acceptable instead.
  struct default_rule {
    const char* rule;
    std::array<std::string_view, 2> covered_by;  // thresholds on these metrics replace it
  };
  static constexpr default_rule defaults[] = {{"failed==0", {"failed", "joined"}},
                                              {"lost==0", {"lost", "lost"}},
                                              {"duplicated==0", {"duplicated", "duplicated"}},
                                              {"misrouted==0", {"misrouted", "misrouted"}}};
  for (const auto& d : defaults) {
    bool covered = std::any_of(thresholds.begin(), thresholds.end(), [&](const threshold& t) {
      return std::find(d.covered_by.begin(), d.covered_by.end(), t.metric) != d.covered_by.end();
    });
    if (covered) continue;
    auto verdict = bench::evaluate(parse_threshold(d.rule).value(), lookup);
    verdict.expr += " (default)";
    verdicts.push_back(std::move(verdict));
  }
}

bool report::thresholds_ok() const {
  return std::all_of(verdicts.begin(), verdicts.end(), [](const auto& v) { return v.ok; });
}

json to_json(const report& r) {
  json latency = json::object();
  for (auto name : latency_names)
    if (const auto* h = find_latency(r, name)) latency[name] = stats_json(summarize(*h));
  json thresholds = json::array();
  for (const auto& v : r.verdicts)
    thresholds.push_back(threshold_json(v));
  json timeline = json::array();
  for (const auto& p : r.timeline)
    timeline.push_back({{"t_s", p.t_s}, {"joins_per_s", p.joins_per_s},
                        {"messages_per_s", p.messages_per_s}, {"connected", p.connected}});
  json out = {
      {"target", r.target},
      {"scenario", r.scenario},
      {"started_at", r.started_at},
      {"duration_s", r.duration_s},
      {"peers", {{"planned", r.planned}, {"connected", r.connected}, {"joined", r.joined}, {"failed", r.failed}}},
      {"messages",
       {{"sent", r.sent}, {"received", r.received}, {"lost", r.lost}, {"duplicated", r.duplicated},
        {"misrouted", r.misrouted}}},
      {"errors", r.errors},
      {"failures", r.failures},
      {"latency_ms", latency},
      {"latency_ms_uncorrected", {{"connect", stats_json(summarize(r.connect_uncorrected))}}},
      {"throughput", {{"join_rate", r.join_rate}, {"message_rate", r.message_rate}}},
      {"generator",
       {{"threads", r.threads}, {"late_starts", r.late_starts}, {"worst_lag_ms", r.worst_lag_ms},
        {"peak_rss_bytes", r.peak_rss_bytes}, {"peak_connections", r.peak_connections},
        {"bytes_per_peer", r.bytes_per_peer ? json(*r.bytes_per_peer) : json(nullptr)}, {"saturated", r.saturated}}},
      {"thresholds", thresholds},
      {"timeline", timeline},
      {"histograms", histograms_to_json(r)},
  };
  if (r.aborted) out["aborted"] = *r.aborted;
  if (r.baseline) out["baseline"] = to_json(*r.baseline);
  if (r.capacity) out["capacity"] = to_json(*r.capacity);
  return out;
}

void write_text(std::ostream& out, const report& r) {
  out << "sigbench: " << r.planned << " peers against " << r.target << " (" << r.scenario << "), "
      << fixed(r.duration_s, 1) << " s\n";
  if (r.aborted) out << "ABORTED: " << *r.aborted << "\n";
  out << "  peers      planned " << r.planned << "  connected " << r.connected << "  joined " << r.joined
      << "  failed " << r.failed;
  for (const auto& [why, n] : r.failures) out << (&why == &r.failures.begin()->first ? " (" : ", ") << why << ": " << n;
  out << (r.failures.empty() ? "\n" : ")\n");
  out << "  messages   sent " << r.sent << "  received " << r.received << "  lost " << r.lost << "  duplicated "
      << r.duplicated << "  misrouted " << r.misrouted << "\n";
  out << "  errors     ";
  if (r.errors.empty()) out << "none";
  for (const auto& [code, n] : r.errors) out << code << " " << n << "  ";
  out << "\n  throughput " << fixed(r.join_rate, 1) << " joins/s, " << fixed(r.message_rate, 1)
      << " messages/s\n";
  out << "  generator  " << r.threads << " threads, " << r.late_starts << " late starts (worst lag "
      << fixed(r.worst_lag_ms, 1) << " ms), peak RSS " << fixed(static_cast<double>(r.peak_rss_bytes) / 1048576, 1)
      << " MiB for " << r.peak_connections << " connections at once"
      << (r.bytes_per_peer ? " (~" + fixed(*r.bytes_per_peer / 1024, 1) + " KiB each)" : std::string())
      << (r.saturated ? ", SATURATED: results understate the server" : "") << "\n\n";

  char line[160];
  std::snprintf(line, sizeof line, "  %-22s %9s %9s %9s %9s %9s %9s %8s\n", "latency (ms)", "p50", "p90", "p99",
                "p99.9", "max", "mean", "count");
  out << line;
  auto row = [&](const std::string& label, const metrics::latency_histogram& h) {
    auto s = summarize(h);
    std::snprintf(line, sizeof line, "  %-22s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %8llu\n", label.c_str(), s.p50,
                  s.p90, s.p99, s.p999, s.max, s.mean, static_cast<unsigned long long>(s.count));
    out << line;
  };
  for (auto name : latency_names)
    if (const auto* h = find_latency(r, name)) row(name, *h);
  row("connect (uncorrected)", r.connect_uncorrected);

  for (auto name : latency_names) {
    const auto* h = find_latency(r, name);
    if (!h || h->empty()) continue;
    out << "\n  " << name << "\n";
    auto bs = bands(*h);
    std::uint64_t peak = 0;
    for (const auto& b : bs) peak = std::max(peak, b.count);
    for (const auto& b : bs) {
      int width = static_cast<int>(std::lround(40.0 * static_cast<double>(b.count) / static_cast<double>(peak)));
      std::snprintf(line, sizeof line, "    <= %9s ms |%-40s| %llu\n", fixed(b.upper_ms, 3).c_str(),
                    std::string(static_cast<std::size_t>(width), '#').c_str(),
                    static_cast<unsigned long long>(b.count));
      out << line;
    }
  }
  if (!r.verdicts.empty()) {
    out << "\n  thresholds\n";
    for (const auto& v : r.verdicts)
      out << "    " << (v.ok ? "pass" : "FAIL") << "  " << v.expr << "  (observed " << format_observed(v) << ")\n";
  }
  if (r.baseline) write_text(out, *r.baseline);
  if (r.capacity) write_text(out, *r.capacity);
}

std::vector<std::string> write_hgrm_files(const std::string& directory, const report& r) {
  std::filesystem::create_directories(directory);
  std::vector<std::string> paths;
  auto write = [&](const std::string& name, const metrics::latency_histogram& h) {
    auto path = directory + "/" + name + ".hgrm";
    std::ofstream out(path);
    h.write_hgrm(out, metrics::ns_per_ms);
    paths.push_back(path);
  };
  for (auto name : latency_names)
    if (const auto* h = find_latency(r, name)) write(name, *h);
  write("connect-uncorrected", r.connect_uncorrected);
  return paths;
}

}  // namespace sigkit::bench
