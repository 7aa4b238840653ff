// sigbench's plan and its result, independent of how the load is generated:
// a scenario (from JSON, with command-line overrides) and a report (to JSON,
// text, HTML and .hgrm files).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/histogram.hpp"
#include "sigkit/result.hpp"
#include "sigkit/threshold.hpp"

namespace sigkit::bench {

using std::chrono::nanoseconds;

// How a simulated peer ends its session.
enum class leave_mode { leave, bye, close };

struct scenario {
  std::string name = "command line";
  std::string url = "ws://127.0.0.1:8080/ws";
  std::optional<std::uint64_t> peers;    // total peers; default 200 when no duration
  std::optional<nanoseconds> duration;   // arrivals stop after this
  double rate = 1000;                    // peers per second; 0 = closed model
  std::uint64_t concurrency = 100;       // closed model: sessions in flight
  nanoseconds ramp_up{0};
  std::uint64_t room_size = 2;
  std::uint64_t candidates = 4;          // per peer and per pair
  std::uint64_t sdp_bytes = 2000;        // size of the fake offer/answer SDP
  nanoseconds hold{0};                   // time in the room after negotiating
  leave_mode leave = leave_mode::leave;
  unsigned threads = 0;                  // 0 = all cores
  std::vector<std::string> source_addresses;
  std::string origin;
  nanoseconds connect_timeout = std::chrono::seconds(10);
  nanoseconds negotiation_timeout = std::chrono::seconds(10);
  // A start later than this after its intended time is a late start; more
  // than max_late_fraction of them means the generator saturated.
  nanoseconds late_bound = std::chrono::milliseconds(50);
  double max_late_fraction = 0.01;
  std::vector<threshold> thresholds;
};

// Builds a scenario from a JSON object whose keys are the command-line flag
// names without dashes ("room-size", "ramp-up", "thresholds": [...]).
// Numbers may be given as JSON numbers or strings, durations as "250ms" or
// seconds. Unknown keys are errors, so a typo cannot pass unnoticed.
result<scenario, std::string> scenario_from_json(const nlohmann::json& object, scenario base = {});
result<scenario, std::string> load_scenario_file(const std::string& path);

// "127.0.0.2-127.0.0.9" or "127.0.0.2,127.0.0.5" -> the list of addresses.
result<std::vector<std::string>, std::string> parse_address_list(std::string_view text);

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

  std::uint64_t error_total() const;
  std::optional<double> metric(std::string_view name) const;  // for thresholds
  void evaluate(const std::vector<threshold>& thresholds);
  bool thresholds_ok() const;
};

nlohmann::json to_json(const report& r);
void write_text(std::ostream& out, const report& r);
void write_html(std::ostream& out, const report& r);
// One .hgrm file per latency metric in `directory`; returns the paths.
std::vector<std::string> write_hgrm_files(const std::string& directory, const report& r);

}  // namespace sigkit::bench
