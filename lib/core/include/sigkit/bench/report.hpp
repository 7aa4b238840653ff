// sigbench's result, independent of how the load was generated: a report
// (to JSON, text, HTML and .hgrm files).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/bench/baseline.hpp"
#include "sigkit/bench/capacity.hpp"
#include "sigkit/bench/threshold.hpp"
#include "sigkit/metrics/histogram.hpp"
#include "sigkit/result.hpp"

namespace sigkit::bench {

struct latency_stats {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;  // milliseconds
  std::uint64_t count = 0;
};
latency_stats summarize(const metrics::latency_histogram& h);

// One sample per second of the run, for the throughput chart.
struct timeline_point {
  double t_s;
  double joins_per_s;
  double messages_per_s;
  std::uint64_t connected;
};

struct report {
  std::string target;
  std::string scenario;
  std::string started_at;  // UTC, ISO 8601
  double duration_s = 0;

  std::uint64_t planned = 0, connected = 0, joined = 0, failed = 0;
  std::uint64_t sent = 0, received = 0, lost = 0, duplicated = 0, misrouted = 0;
  std::map<std::string, std::uint64_t> errors;    // server error messages by code
  std::map<std::string, std::uint64_t> failures;  // failed peers by reason ("HTTP 503", "room-full", ...)

  // connect is measured from each peer's intended start (coordinated
  // omission corrected); connect_uncorrected from its actual start.
  std::map<std::string, metrics::latency_histogram> latency;  // connect join relay negotiation
  metrics::latency_histogram connect_uncorrected;

  double join_rate = 0, message_rate = 0;
  unsigned threads = 0;
  std::uint64_t late_starts = 0;
  double worst_lag_ms = 0;
  std::uint64_t peak_rss_bytes = 0;
  std::uint64_t peak_connections = 0;
  std::optional<double> bytes_per_peer;  // only with enough connections open at once to tell
  bool saturated = false;
  std::optional<std::string> aborted;  // why the run stopped early

  std::vector<timeline_point> timeline;
  std::vector<threshold_verdict> verdicts;
  std::optional<baseline_comparison> baseline;  // --baseline: against a stored run
  std::optional<capacity_result> capacity;  // --find-capacity: the search; the fields above are its last step that held

  std::uint64_t error_total() const;
  std::optional<double> metric(std::string_view name) const;  // for thresholds
  // The thresholds, plus failed==0, lost==0, duplicated==0 and misrouted==0
  // (marked "(default)") for each of those metrics no threshold names.
  void evaluate(const std::vector<threshold>& thresholds);
  bool thresholds_ok() const;
};

nlohmann::json to_json(const report& r);
// The JSON report's "histograms": each latency histogram (and
// connect_uncorrected) in HdrHistogram's compressed encoding, values in
// nanoseconds, with the exact count, min, max, sum and saturated count
// beside it, so a report read back holds the very histograms written.
nlohmann::json histograms_to_json(const report& r);
// A report read back from its JSON, histograms included: what `sigbench
// merge` and `--baseline` read. An error names what is missing or wrong.
result<report, std::string> report_from_json(const nlohmann::json& j);
result<report, std::string> load_report_file(const std::string& path);
void write_text(std::ostream& out, const report& r);
void write_html(std::ostream& out, const report& r);
// One .hgrm file per latency metric in `directory`; returns the paths.
std::vector<std::string> write_hgrm_files(const std::string& directory, const report& r);

}  // namespace sigkit::bench
