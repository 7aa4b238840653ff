// sigbench: load tester for protocol v1 signaling servers. Command-line
// wiring only; the engine is sigkit::bench_engine::run.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include <sys/resource.h>
#include <unistd.h>

#include "cli.hpp"
#include "outputs.hpp"

#include "sigkit/bench/merge.hpp"
#include "sigkit/bench/report.hpp"
#include "sigkit/bench/scenario.hpp"
#include "sigkit/bench/threshold.hpp"
#include "sigkit/bench_engine/runner.hpp"

namespace {

constexpr int exit_usage = sigkit::cli::exit_usage;

std::atomic<bool> interrupted{false};
extern "C" void on_signal(int) { interrupted.store(true); }

// Raises the open-files limit as far as allowed and says so when a run may
// need more descriptors than it can have.
void raise_open_files_limit(std::uint64_t peers_wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (peers_wanted + 64 > limit.rlim_cur)
    std::fprintf(stderr,
                 "sigbench: warning: the open-files limit is %llu and this run may hold up to %llu connections; "
                 "raise it (ulimit -n, or LimitNOFILE= for a service) or connections will fail\n",
                 static_cast<unsigned long long>(limit.rlim_cur), static_cast<unsigned long long>(peers_wanted));
}

// One redrawn line on a terminal; a plain line every few seconds otherwise.
class progress_printer {
 public:
  progress_printer(bool quiet) : quiet_(quiet) {
    const char* ci = std::getenv("CI");
    tty_ = isatty(STDERR_FILENO) && !(ci && *ci);
  }
  void operator()(const sigkit::bench_engine::live_status& s) {
    if (quiet_) return;
    if (!tty_ && s.elapsed_s - last_print_s_ < 5) return;
    last_print_s_ = s.elapsed_s;
    std::string planned_time;
    if (s.step > 0) planned_time = " step " + std::to_string(s.step) + " at " + std::to_string(static_cast<long long>(s.step_rate)) + "/s";
    else if (s.arrivals_end_s > 0) planned_time = " of ~" + std::to_string(static_cast<int>(s.arrivals_end_s + 1)) + "s";
    char line[256];
    std::snprintf(line, sizeof line,
                  "%6.1fs%s started %llu/%llu  connected %llu  in rooms %llu  joins/s %.0f  msgs/s %.0f  "
                  "join p99 %.2f ms  errors %llu  failed %llu",
                  s.elapsed_s, planned_time.c_str(),
                  static_cast<unsigned long long>(s.started), static_cast<unsigned long long>(s.planned),
                  static_cast<unsigned long long>(s.connected), static_cast<unsigned long long>(s.in_rooms),
                  s.joins_per_s, s.messages_per_s, s.join_p99_ms, static_cast<unsigned long long>(s.errors),
                  static_cast<unsigned long long>(s.failed));
    if (tty_) std::fprintf(stderr, "\r\033[K%s", line);
    else std::fprintf(stderr, "%s\n", line);
    drew_ = true;
  }
  void finish() {
    if (tty_ && drew_) std::fprintf(stderr, "\n");
  }

 private:
  bool quiet_;
  bool tty_;
  bool drew_ = false;
  double last_print_s_ = -100;
};

// `sigbench merge A.json B.json ...`: the reports of several runs (the
// segments of one plan) as one, judged again.
int merge_command(int argc, char** argv) {
  CLI::App app{
      "sigbench merge: merges the JSON reports of several sigbench runs (the segments of one plan, --segment I/N)\n"
      "into one, losslessly (their HdrHistogram histograms merge), and judges it again: by --threshold when\n"
      "given, else by the thresholds the parts were run with. Exit codes as for a run.",
      "sigbench merge"};
  std::vector<std::string> paths, thresholds;
  sigbench::outputs out;
  app.add_option("reports", paths, "JSON reports written by sigbench --json")->required()->check(CLI::ExistingFile);
  app.add_option("--threshold", thresholds, "Pass/fail rule for the merged run, repeatable (default: the parts')");
  out.add_options(app);
  if (auto stop = sigkit::cli::parse(app, argc, argv)) return *stop;
  if (auto refused = out.prepare()) return sigkit::cli::usage_error("sigbench merge", *refused);

  std::vector<sigkit::bench::report> parts;
  for (const auto& path : paths) {
    auto loaded = sigkit::bench::load_report_file(path);
    if (!loaded) return sigkit::cli::usage_error("sigbench merge", path + ": " + loaded.error());
    parts.push_back(std::move(loaded.value()));
  }
  if (thresholds.empty()) thresholds = sigkit::bench::threshold_exprs(parts);
  std::vector<sigkit::bench::threshold> rules;
  for (const auto& expr : thresholds) {
    auto t = sigkit::bench::parse_threshold(expr);
    if (!t) return sigkit::cli::usage_error("sigbench merge", t.error().message);
    rules.push_back(std::move(t.value()));
  }
  auto merged = sigkit::bench::merge_reports(parts);
  if (!merged) return sigkit::cli::usage_error("sigbench merge", merged.error());
  merged->evaluate(rules);
  return out.finish(merged.value());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "merge") return merge_command(argc - 1, argv + 1);
  CLI::App app{
      "sigbench: load test for WebRTC signaling servers: sigkit protocol v1, the socket.io codelab\n"
      "server, or any JSON protocol a dialect file describes.\n"
      "Simulated peers connect, join rooms, negotiate (offer/answer/candidates) and leave;\n"
      "latency is measured from each peer's scheduled start, so a stalled server cannot hide.\n"
      "Failed peers and lost, duplicated or misrouted messages fail a run unless a threshold allows them.\n"
      "`sigbench merge --help`: merge the reports of several segments.\n"
      "Exit codes: 0 passed, 1 a threshold failed or a metric regressed, 2 usage or configuration error,\n"
      "3 target unreachable or run aborted, 4 the generator saturated (results not trustworthy).",
      "sigbench"};
  app.set_version_flag("--version", std::string("sigbench ") + SIGKIT_VERSION + " (protocol 1)");

  std::string scenario_path;
  sigbench::outputs out;
  bool quiet = false;
  // Settings go into a JSON object keyed like the scenario file, so flags and
  // files share one parser and one set of error messages.
  nlohmann::json overrides = nlohmann::json::object();
  std::vector<std::string> thresholds;
  auto setting = [&](const char* flag, const char* help) {
    std::string key = std::string(flag).substr(2);
    return app.add_option_function<std::string>(flag, [&overrides, key](const std::string& v) { overrides[key] = v; },
                                                 help);
  };
  app.add_option("--scenario", scenario_path, "Scenario file (JSON); flags override its settings")
      ->check(CLI::ExistingFile);
  app.add_option_function<std::vector<std::string>>(
      "--url",
      [&overrides](const std::vector<std::string>& urls) {
        overrides["url"] = urls.size() == 1 ? nlohmann::json(urls.front()) : nlohmann::json(urls);
      },
      "Target WebSocket URL, ws:// or wss:// (default ws://127.0.0.1:8080/ws); repeat it for instances of one "
      "service: each room's members are spread over them");
  setting("--dialect", "The server's protocol: sigkit (default), socketio-codelab, or a dialect file (JSON)");
  setting("--segment", "Run slice I of N of the plan (I from 0), e.g. 0/4; merge the reports with sigbench merge");
  setting("--peers", "Total simulated peers (default 200 unless --duration is given)");
  setting("--duration", "Stop arrivals after this long (e.g. 60s)");
  setting("--rate", "Arrivals per second (default 1000); 0 = closed model");
  setting("--concurrency", "Closed model: sessions in flight (default 100)");
  setting("--ramp-up", "Ramp the arrival rate up from 0 over this long");
  setting("--room-size", "Peers per room (default 2)");
  setting("--candidates", "ICE candidates each peer sends to each other peer (default 4)");
  setting("--sdp-bytes", "Size of the offer/answer SDP (default 2000)");
  setting("--hold", "Stay in the room this long after negotiating (default 0)");
  setting("--leave", "How a peer ends: leave, bye or close (default leave)");
  setting("--threads", "Generator threads (default: all cores)");
  setting("--source-addresses", "Local addresses to spread connections over, e.g. 127.0.0.2-127.0.0.9");
  setting("--origin", "Origin header to send");
  setting("--ca-file", "wss://: trust the CAs in this PEM file instead of the system's");
  app.add_flag_callback("--insecure", [&overrides] { overrides["insecure"] = true; },
                        "wss://: accept any certificate for any name (self-signed test servers only)");
  setting("--connect-timeout", "Limit for TCP + TLS (wss://) + WebSocket handshake + welcome (default 10s)");
  setting("--negotiation-timeout", "Limit for a room to finish negotiating (default 10s)");
  setting("--late-bound", "A start later than this is late; >1% late = saturated (default 50ms)");
  app.add_option("--threshold", thresholds,
                 "Pass/fail rule, repeatable: join.p99<20ms, joined>=99.9%, failed<=0.1%, errors.room-full==0 ...");
  setting("--find-capacity", "Step the arrival rate up while this holds (e.g. 'join.p99<50ms'); report the highest");
  setting("--rate-start", "--find-capacity: the first step's arrivals per second (default 100)");
  setting("--rate-step", "--find-capacity: added at each step (default: --rate-start)");
  out.add_options(app);
  app.add_flag("--quiet", quiet, "No progress line");

  if (auto stop = sigkit::cli::parse(app, argc, argv)) return *stop;

  sigkit::bench::scenario plan;
  if (!scenario_path.empty()) {
    auto loaded = sigkit::bench::load_scenario_file(scenario_path);
    if (!loaded) {
      std::fprintf(stderr, "sigbench: %s\n", loaded.error().c_str());
      return exit_usage;
    }
    plan = std::move(loaded.value());
  }
  if (!thresholds.empty()) overrides["thresholds"] = thresholds;
  auto merged = sigkit::bench::scenario_from_json(overrides, plan);
  if (!merged) {
    std::fprintf(stderr, "sigbench: %s\n", merged.error().c_str());
    return exit_usage;
  }
  plan = std::move(merged.value());
  if (auto refused = out.prepare()) return sigkit::cli::usage_error("sigbench", *refused);

  raise_open_files_limit(plan.peers.value_or(static_cast<std::uint64_t>(
      plan.rate * std::chrono::duration<double>(plan.duration.value_or(std::chrono::seconds(0))).count())));
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  progress_printer progress(quiet);
  sigkit::bench::report report;
  try {
    report = sigkit::bench_engine::run(plan, std::ref(progress), interrupted);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigbench: %s\n", e.what());
    return exit_usage;
  }
  progress.finish();

  int code = out.finish(report);
  if (report.saturated)
    std::fprintf(stderr, "sigbench: use more --threads, a lower --rate, or a second machine (--segment)\n");
  return code;
}
