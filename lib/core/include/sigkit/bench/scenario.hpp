// sigbench's plan, independent of how the load is generated: a scenario
// (from JSON, with command-line overrides).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/bench/segment.hpp"
#include "sigkit/bench/threshold.hpp"
#include "sigkit/result.hpp"

namespace sigkit::bench {

using std::chrono::nanoseconds;

// How a simulated peer ends its session.
enum class leave_mode { leave, bye, close };

// Generator threads at most: each numbers its relays in a range of its own
// below 2^53 (see bench_engine's relay sequence numbers).
inline constexpr std::uint64_t max_threads = 1024;

struct scenario {
  std::string name = "command line";
  std::string url = "ws://127.0.0.1:8080/ws";
  // More instances of one service (--url given more than once): the members
  // of each room are spread over all of them, member m on url m % N, so most
  // pairs cross instances; relay_cross measures the relays that did.
  std::vector<std::string> more_urls;
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
  // wss:// only: a PEM bundle of CAs to trust (empty: the system's), or no
  // verification at all, for test servers with self-signed certificates.
  std::string ca_file;
  bool insecure = false;
  nanoseconds connect_timeout = std::chrono::seconds(10);
  nanoseconds negotiation_timeout = std::chrono::seconds(10);
  // A start later than this after its intended time is a late start; more
  // than max_late_fraction of them means the generator saturated.
  nanoseconds late_bound = std::chrono::milliseconds(50);
  double max_late_fraction = 0.01;
  std::vector<threshold> thresholds;
  // The server's protocol: a built-in dialect ("sigkit", "socketio-codelab")
  // or the path of a dialect file (see dialect.hpp).
  std::string dialect = "sigkit";
  // This process's slice of the plan (segment.hpp); the whole plan by default.
  segment slice;
  // Capacity search (capacity.hpp): step the rate up from rate_start by
  // rate_step, one --duration per step, while this condition holds.
  std::optional<threshold> find_capacity;
  double rate_start = 100;
  std::optional<double> rate_step;  // default: rate_start
};

// Builds a scenario from a JSON object whose keys are the command-line flag
// names without dashes ("room-size", "ramp-up", "thresholds": [...]).
// Numbers may be given as JSON numbers or strings, durations as "250ms" or
// seconds. Unknown keys are errors, so a typo cannot pass unnoticed.
result<scenario, std::string> scenario_from_json(const nlohmann::json& object, scenario base = {});
result<scenario, std::string> load_scenario_file(const std::string& path);

// "127.0.0.2-127.0.0.9" or "127.0.0.2,127.0.0.5" -> the list of addresses.
result<std::vector<std::string>, std::string> parse_address_list(std::string_view text);

}  // namespace sigkit::bench
