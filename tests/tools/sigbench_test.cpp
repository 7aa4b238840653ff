// sigbench as CI runs it: a real process against a real sigserve (or a
// deliberately lossy server), judged by its exit code and JSON report.
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/lossy_server.hpp"
#include "support/raw_socket.hpp"
#include "support/sigserve_process.hpp"
#include "support/test_certificate.hpp"
#include "support/tls_ws_server.hpp"

using json = nlohmann::json;
using sigkit::test::run_command;
using sigkit::test::sigserve_process;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("sigbench-test-" + std::to_string(getpid()) + "-" + name)).string();
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in);
  return json::parse(in);
}

sigkit::test::command_result sigbench(std::vector<std::string> args) {
  args.insert(args.begin(), {SIGKIT_SIGBENCH_PATH, "--quiet"});
  return run_command(args);
}

// Self-signed, for 127.0.0.1, ::1 and localhost: its own CA for --ca-file.
const sigkit::test::test_certificate& loopback_certificate() {
  static const sigkit::test::test_certificate cert;
  return cert;
}

}  // namespace

TEST_CASE("the smoke scenario against sigserve: every peer joins, nothing is lost", "[sigbench]") {
  sigserve_process server;
  auto report = temp_path("smoke.json");
  auto html = temp_path("smoke.html");
  auto hgrm = temp_path("hgrm");
  // Correctness, not speed: a sanitizer build may start peers late.
  auto r = sigbench({"--scenario", SIGKIT_SOURCE_DIR "/scenarios/smoke.json", "--url", server.ws_url(), "--json",
                     report, "--html", html, "--hgrm-dir", hgrm, "--late-bound", "5s"});
  INFO(r.out << r.err << server.log());
  REQUIRE(r.status == 0);
  auto j = read_json(report);
  CHECK(j["scenario"] == "smoke");
  CHECK(j["target"] == server.ws_url());
  CHECK(j["peers"]["planned"] == 200);
  CHECK(j["peers"]["joined"] == 200);
  CHECK(j["peers"]["failed"] == 0);
  CHECK(j["messages"]["sent"] == 1000);  // 100 rooms x (offer + answer + 2 x 4 candidates)
  CHECK(j["messages"]["received"] == 1000);
  CHECK(j["messages"]["lost"] == 0);
  CHECK(j["messages"]["duplicated"] == 0);
  CHECK(j["messages"]["misrouted"] == 0);
  CHECK(j["errors"].empty());
  for (auto metric : {"connect", "join", "relay", "negotiation"})
    for (auto stat : {"p50", "p90", "p99", "p999", "max", "mean", "count"}) {
      INFO(metric << "." << stat);
      CHECK(j["latency_ms"][metric].contains(stat));
    }
  CHECK(j["latency_ms"]["negotiation"]["count"] == 100);
  CHECK(j["latency_ms"]["join"]["p50"].get<double>() > 0);
  CHECK(j["latency_ms"]["join"]["p50"].get<double>() <= j["latency_ms"]["join"]["p99"].get<double>());
  CHECK(j["throughput"]["join_rate"].get<double>() > 0);
  CHECK(j["thresholds"].size() == 5);
  for (const auto& t : j["thresholds"]) CHECK(t["ok"] == true);
  // The server saw the same run.
  auto metrics = sigkit::test::http_request(server.port(), "GET", "/metrics");
  CHECK(metrics.find("sigserve_joins_total 200") != std::string::npos);
  CHECK(metrics.find("sigserve_messages_relayed_total{type=\"candidate\"} 800") != std::string::npos);

  std::ifstream page(html);
  std::string text((std::istreambuf_iterator<char>(page)), {});
  CHECK(text.find("<svg") != std::string::npos);
  CHECK(text.find("negotiation") != std::string::npos);
  // The verdict comes first, and the report rides along as JSON a tool can read.
  CHECK(text.find("class='verdict pass'><strong>PASSED") < text.find("<svg"));
  auto data_at = text.find("<script type=application/json id=report>");
  REQUIRE(data_at != std::string::npos);
  data_at += std::string_view("<script type=application/json id=report>").size();
  auto embedded = json::parse(text.substr(data_at, text.find("</script>", data_at) - data_at));
  CHECK(embedded["peers"]["joined"] == 200);
  std::ifstream join_hgrm(hgrm + "/join.hgrm");
  std::string hg((std::istreambuf_iterator<char>(join_hgrm)), {});
  CHECK(hg.find("Percentile") != std::string::npos);
  CHECK(hg.find("Total count") != std::string::npos);
  std::filesystem::remove_all(hgrm);
  std::filesystem::remove(report);
  std::filesystem::remove(html);
}

TEST_CASE("a threshold that fails exits 1 and says which", "[sigbench]") {
  sigserve_process server;
  auto report = temp_path("fail.json");
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--rate", "100", "--threshold", "join.p50<1ns",
                     "--threshold", "lost==0", "--json", report, "--late-bound", "5s"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("FAIL  join.p50<1ns") != std::string::npos);
  CHECK(r.out.find("pass  lost==0") != std::string::npos);
  auto j = read_json(report);
  CHECK(j["thresholds"][0]["ok"] == false);
  CHECK(j["thresholds"][1]["ok"] == true);
  std::filesystem::remove(report);
}

TEST_CASE("relays at light load are not held back", "[sigbench]") {
  // A loopback relay takes well under a millisecond (a few under a
  // sanitizer); ~40 ms would mean small writes wait for delayed ACKs (Nagle).
  sigserve_process server;
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--rate", "20", "--late-bound", "5s", "--threshold",
                     "relay.p50<20ms", "--threshold", "negotiation.p50<40ms"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
}

TEST_CASE("configuration mistakes exit 2 with one line", "[sigbench]") {
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--threshold", "jion.p99<20ms"}, {"--threshold", "lost=0"}, {"--peers", "lots"},
        {"--rate", "0", "--concurrency", "1"}, {"--scenario", "/nonexistent.json"}, {"--bogus"},
        {"--source-addresses", "127.0.0.9-127.0.0.1"}, {"--url", "https://127.0.0.1:8443/ws"},
        {"--url", "127.0.0.1:8080"}, {"--url", "wss://127.0.0.1:8443/ws", "--ca-file", "/nonexistent.pem"},
        {"--json", "/nonexistent/report.json"}, {"--html", "/"}, {"--junit", "/nonexistent/junit.xml"},
        {"--hgrm-dir", "/nonexistent/hgrm"}, {"--dialect", "no-such-dialect"}, {"--segment", "2/2"},
        {"--threshold", "joined>=101%"}, {"--max-regression", "10%"}, {"--baseline", "/nonexistent.json"},
        {"--threads", "5000"}, {"--find-capacity", "jion.p99<5ms"}}) {
    auto r = sigbench(bad);
    INFO(bad.front() << " " << bad.back() << ": " << r.err);
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("sigbench: ", 0) == 0);
  }
}

TEST_CASE("an unreachable target exits 3 quickly", "[sigbench]") {
  // Port 1 on loopback: nothing listens there.
  auto start = std::chrono::steady_clock::now();
  auto r = sigbench({"--url", "ws://127.0.0.1:1/ws", "--peers", "1000", "--rate", "100"});
  CHECK(r.status == 3);
  CHECK(r.err.find("unreachable") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("a server that drops one relay is caught: lost == 1", "[sigbench]") {
  sigkit::test::lossy_server server(7);
  auto report = temp_path("lossy.json");
  auto r = sigbench({"--url", "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws", "--peers", "10", "--rate",
                     "50", "--negotiation-timeout", "1s", "--threshold", "lost==0", "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  auto j = read_json(report);
  CHECK(j["messages"]["lost"] == 1);
  CHECK(j["messages"]["sent"] == 50);
  CHECK(j["messages"]["received"] == 49);
  CHECK(j["messages"]["duplicated"] == 0);
  CHECK(j["messages"]["misrouted"] == 0);
  CHECK(j["latency_ms"]["negotiation"]["count"] == 4);  // the room with the loss never completes
  std::filesystem::remove(report);
}

TEST_CASE("source addresses spread connections over local addresses", "[sigbench]") {
  sigserve_process server;
  auto r = sigbench({"--url", server.ws_url(), "--peers", "8", "--rate", "100", "--late-bound", "5s",
                     "--source-addresses", "127.0.0.2-127.0.0.3", "--threshold", "joined==8"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  auto log = server.log();  // sigserve logs each connection's remote address
  CHECK(log.find("remote=127.0.0.2:") != std::string::npos);
  CHECK(log.find("remote=127.0.0.3:") != std::string::npos);
  CHECK(log.find("remote=127.0.0.1:") == std::string::npos);
}

TEST_CASE("peers the server refuses are counted with the reason", "[sigbench]") {
  sigserve_process server({"--max-connections", "4"});
  auto report = temp_path("refused.json");
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--rate", "200", "--hold", "1s", "--late-bound", "5s",
                     "--json", report, "--threshold", "failed==0"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("HTTP 503") != std::string::npos);
  auto j = read_json(report);
  CHECK(j["peers"]["failed"].get<int>() > 0);
  CHECK(j["failures"]["HTTP 503"] == j["peers"]["failed"]);
  CHECK(j["peers"]["connected"].get<int>() + j["peers"]["failed"].get<int>() == 20);
  std::filesystem::remove(report);
}

TEST_CASE("a generator that falls behind its schedule says so and exits 4", "[sigbench]") {
  sigserve_process server;
  // Every start is later than 1 ns after its intended time.
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--rate", "200", "--late-bound", "1ns"});
  CHECK(r.status == 4);
  CHECK(r.err.find("saturated") != std::string::npos);
}

TEST_CASE("the closed model keeps a fixed number of sessions in flight", "[sigbench]") {
  sigserve_process server({"--room-capacity", "3"});
  auto report = temp_path("closed.json");
  // More threads than rooms in flight: the cap holds across all of them
  // (it once allowed threads x room size, whatever --concurrency said).
  auto r = sigbench({"--url", server.ws_url(), "--peers", "60", "--rate", "0", "--concurrency", "6", "--room-size",
                     "3", "--threads", "8", "--json", report, "--threshold", "joined==60"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  auto j = read_json(report);
  CHECK(j["peers"]["joined"] == 60);
  CHECK(j["messages"]["lost"] == 0);
  CHECK(j["generator"]["peak_connections"].get<int>() <= 6);
  CHECK(j["latency_ms"]["negotiation"]["count"] == 20);
  std::filesystem::remove(report);
}

TEST_CASE("sigbench --help and --version", "[sigbench][cli]") {
  auto help = run_command({SIGKIT_SIGBENCH_PATH, "--help"});
  CHECK(help.status == 0);
  for (auto flag : {"--scenario", "--url", "--peers", "--rate", "--threshold", "--json", "--html", "--hgrm-dir",
                    "--source-addresses", "--quiet", "Exit codes"}) {
    INFO(flag);
    CHECK(help.out.find(flag) != std::string::npos);
  }
  auto version = run_command({SIGKIT_SIGBENCH_PATH, "--version"});
  CHECK(version.status == 0);
  CHECK(version.out.find("sigbench 0.1.0") != std::string::npos);
}

TEST_CASE("wss:// with --ca-file: the smoke load runs over TLS", "[sigbench][tls]") {
  const auto& cert = loopback_certificate();
  sigkit::test::tls_ws_server server(cert.cert_path(), cert.key_path());
  auto report = temp_path("tls.json");
  auto r = sigbench({"--url", server.url(), "--ca-file", cert.cert_path(), "--peers", "20", "--room-size", "2",
                     "--rate", "100", "--late-bound", "5s", "--json", report, "--threshold", "joined==20",
                     "--threshold", "lost==0"});
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  auto j = read_json(report);
  CHECK(j["target"] == server.url());
  CHECK(j["peers"]["failed"] == 0);
  CHECK(j["messages"]["received"] == j["messages"]["sent"]);
  CHECK(server.welcomed() == 20);
  std::filesystem::remove(report);
}

TEST_CASE("an untrusted certificate is named as a TLS failure, and --insecure goes on", "[sigbench][tls]") {
  const auto& cert = loopback_certificate();
  sigkit::test::tls_ws_server server(cert.cert_path(), cert.key_path());
  auto report = temp_path("tls-untrusted.json");
  auto r = sigbench({"--url", server.url(), "--peers", "20", "--rate", "100", "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 3);
  CHECK(r.err.find("certificate verify failed (self-signed certificate)") != std::string::npos);
  CHECK(r.err.find("--ca-file") != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  auto j = read_json(report);
  CHECK(j["peers"]["connected"] == 0);
  REQUIRE(j["failures"].size() == 1);
  CHECK(j["failures"].contains("TLS: certificate verify failed (self-signed certificate)"));
  CHECK(server.welcomed() == 0);
  std::filesystem::remove(report);

  // The same from a scenario file, whose keys match the flags.
  auto scenario = temp_path("tls-insecure.json");
  std::ofstream(scenario) << json{{"url", server.url()}, {"insecure", true}, {"peers", 4}, {"rate", 100}}.dump();
  auto insecure = sigbench({"--scenario", scenario, "--late-bound", "5s", "--threshold", "joined==4"});
  INFO(insecure.out << insecure.err);
  CHECK(insecure.status == 0);
  CHECK(server.welcomed() == 4);
  std::filesystem::remove(scenario);
}

TEST_CASE("wss:// against sigserve's own TLS listener", "[sigbench][tls]") {
  const auto& cert = loopback_certificate();
  sigkit::test::sigserve_process server({"--tls-cert", cert.cert_path(), "--tls-key", cert.key_path()});
  auto report = temp_path("sigserve-tls.json");
  auto r = sigbench({"--url", server.ws_url(), "--ca-file", cert.cert_path(), "--peers", "20", "--room-size", "2",
                     "--rate", "100", "--late-bound", "5s", "--json", report, "--threshold", "joined==20",
                     "--threshold", "lost==0"});
  INFO(r.out << r.err << server.log());
  REQUIRE(r.status == 0);
  auto j = read_json(report);
  CHECK(j["peers"]["failed"] == 0);
  CHECK(j["messages"]["received"] == 100);  // 10 rooms x (offer + answer + 2 x 4 candidates)
  std::filesystem::remove(report);

  // Its certificate is not in the system's store either.
  auto untrusted = sigbench({"--url", server.ws_url(), "--peers", "10", "--rate", "100"});
  INFO(untrusted.err);
  CHECK(untrusted.status == 3);
  CHECK(untrusted.err.find("certificate verify failed") != std::string::npos);
}

TEST_CASE("with no threshold a run whose peers failed exits 1", "[sigbench]") {
  // Rooms of three against sigserve's rooms of two: a third of the peers are
  // refused. Nothing asked for failed==0, and still the run must not pass.
  sigserve_process server;
  auto report = temp_path("no-threshold.json");
  auto r = sigbench({"--url", server.ws_url(), "--peers", "30", "--room-size", "3", "--negotiation-timeout", "2s",
                     "--late-bound", "5s", "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("failed==0 (default)") != std::string::npos);
  auto j = read_json(report);
  CHECK(j["peers"]["failed"].get<int>() >= 10);
  CHECK(j["errors"]["room-full"] == 10);
  std::filesystem::remove(report);
}

TEST_CASE("a threshold on failures lets a run with failures pass", "[sigbench]") {
  sigserve_process server;
  auto r = sigbench({"--url", server.ws_url(), "--peers", "30", "--room-size", "3", "--negotiation-timeout", "2s",
                     "--late-bound", "5s", "--threshold", "joined>=60%"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("joined>=60%  (observed 66.667% (20 of 30 planned))") != std::string::npos);
}

TEST_CASE("leave bye: the goodbyes are not counted as misrouted", "[sigbench]") {
  sigserve_process server;
  auto report = temp_path("bye.json");
  auto r = sigbench({"--scenario", SIGKIT_SOURCE_DIR "/scenarios/smoke.json", "--url", server.ws_url(), "--leave",
                     "bye", "--late-bound", "5s", "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  auto j = read_json(report);
  CHECK(j["messages"]["misrouted"] == 0);
  CHECK(j["messages"]["duplicated"] == 0);
  CHECK(j["peers"]["joined"] == 200);
  std::filesystem::remove(report);
}

TEST_CASE("rooms of one: nothing to negotiate and nothing to wait for", "[sigbench]") {
  sigserve_process server;
  auto start = std::chrono::steady_clock::now();
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--room-size", "1", "--late-bound", "5s",
                     "--threshold", "joined==20"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("sent 0") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("a share threshold scales with the run and the output shows units", "[sigbench]") {
  sigserve_process server;
  auto r = sigbench({"--scenario", SIGKIT_SOURCE_DIR "/scenarios/smoke.json", "--url", server.ws_url(), "--peers",
                     "50", "--late-bound", "5s", "--threshold", "joined>=100%", "--threshold", "join.p99<1us"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  // A share, as smoke.json writes it: 50 peers can meet it too.
  CHECK(r.out.find("pass  joined>=100%  (observed 100% (50 of 50 planned))") != std::string::npos);
  CHECK(r.out.find(" ms)") != std::string::npos);
  CHECK(r.err.find("join.p99<1us (observed ") != std::string::npos);
}

TEST_CASE("out of file descriptors is named as the reason peers failed", "[sigbench]") {
  sigserve_process server;
  auto report = temp_path("fds.json");
  // 40 descriptors for the process: a few for itself, too few for 100
  // peers held in their rooms at once.
  auto r = run_command({"/usr/bin/prlimit", "--nofile=40:40", SIGKIT_SIGBENCH_PATH, "--quiet", "--url",
                        server.ws_url(), "--peers", "100", "--rate", "1000", "--hold", "1s", "--late-bound", "5s",
                        "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("open-files limit") != std::string::npos);
  auto j = read_json(report);
  CHECK(j["peers"]["failed"].get<int>() > 0);
  bool named = false;
  for (const auto& [why, n] : j["failures"].items()) named |= why.find("out of file descriptors") != std::string::npos;
  CHECK(named);
  std::filesystem::remove(report);
}

TEST_CASE("HTTP 403 from an origin check is a failure reason of its own", "[sigbench]") {
  sigserve_process server({"--allowed-origin", "https://app.example"});
  auto r = sigbench({"--url", server.ws_url(), "--peers", "4", "--origin", "https://evil.example", "--late-bound",
                     "5s"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("HTTP 403: 4") != std::string::npos);
}

TEST_CASE("two segments of one plan merge into the whole run", "[sigbench][merge]") {
  sigserve_process server;
  auto part0 = temp_path("segment0.json"), part1 = temp_path("segment1.json"), merged = temp_path("merged.json");
  auto junit = temp_path("merged.xml"), summary = temp_path("merged.md"), html = temp_path("merged.html");
  for (auto [segment, path] : {std::pair{"0/2", part0}, std::pair{"1/2", part1}}) {
    auto r = sigbench({"--scenario", SIGKIT_SOURCE_DIR "/scenarios/smoke.json", "--url", server.ws_url(), "--segment",
                       segment, "--late-bound", "5s", "--json", path});
    INFO(segment << ": " << r.out << r.err);
    REQUIRE(r.status == 0);
    CHECK(read_json(path)["peers"]["planned"] == 100);
  }
  auto r = run_command({SIGKIT_SIGBENCH_PATH, "merge", part0, part1, "--json", merged, "--junit", junit,
                        "--summary-md", summary, "--html", html});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  auto j = read_json(merged);
  CHECK(j["peers"]["planned"] == 200);
  CHECK(j["peers"]["joined"] == 200);
  CHECK(j["messages"]["sent"] == 1000);
  CHECK(j["messages"]["received"] == 1000);
  CHECK(j["latency_ms"]["join"]["count"] == 200);
  CHECK(j["latency_ms"]["relay"]["count"] == 1000);
  // The smoke scenario's thresholds are judged again on the merged run.
  bool judged = false;
  for (const auto& t : j["thresholds"]) judged |= t["expr"] == "joined>=100%" && t["ok"] == true;
  CHECK(judged);
  // HdrHistogram's own (JavaScript) implementation reads the merged histograms.
  auto decoded = run_command({"/usr/bin/env", "node", SIGKIT_SOURCE_DIR "/tests/interop/hdr_decode.cjs", merged});
  INFO(decoded.err);
  REQUIRE(decoded.status == 0);
  auto hdr = json::parse(decoded.out);
  for (const char* name : {"join", "relay", "negotiation"}) {
    CHECK(hdr[name]["count"] == j["latency_ms"][name]["count"]);
    double p99_ms = hdr[name]["p99_ns"].get<double>() / 1e6;
    CHECK(p99_ms == Approx(j["latency_ms"][name]["p99"].get<double>()).epsilon(0.002));
  }
  std::ifstream xml(junit);
  std::string text((std::istreambuf_iterator<char>(xml)), {});
  CHECK(text.find("<testcase") != std::string::npos);
  CHECK(text.find("failures=\"0\"") != std::string::npos);
  std::ifstream md(summary);
  std::string markdown((std::istreambuf_iterator<char>(md)), {});
  CHECK(markdown.find("PASSED") != std::string::npos);
  // A threshold given to merge replaces the parts'.
  auto strict = run_command({SIGKIT_SIGBENCH_PATH, "merge", part0, part1, "--threshold", "joined>200"});
  CHECK(strict.status == 1);
  for (const auto& p : {part0, part1, merged, junit, summary, html}) std::filesystem::remove(p);
}

TEST_CASE("merge refuses what is not a report", "[sigbench][merge]") {
  auto bogus = temp_path("bogus.json");
  std::ofstream(bogus) << R"({"peers": "many"})";
  auto r = run_command({SIGKIT_SIGBENCH_PATH, "merge", bogus});
  CHECK(r.status == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  std::filesystem::remove(bogus);
}

TEST_CASE("a baseline: a rate that dropped fails the run and the report says by how much", "[sigbench][baseline]") {
  sigserve_process server;
  auto fast = temp_path("baseline.json"), now = temp_path("current.json");
  auto base = sigbench({"--url", server.ws_url(), "--peers", "200", "--rate", "1000", "--late-bound", "5s", "--json",
                        fast});
  REQUIRE(base.status == 0);
  // The same number of peers at a tenth of the rate: join_rate drops ~90%.
  auto r = sigbench({"--url", server.ws_url(), "--peers", "40", "--rate", "100", "--late-bound", "5s",
                     "--baseline", fast, "--max-regression", "join_rate=20%", "--json", now});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("regressed against the baseline: join_rate") != std::string::npos);
  auto j = read_json(now);
  REQUIRE(j.contains("baseline"));
  // Compared with itself, a run has not regressed.
  auto same = sigbench({"--url", server.ws_url(), "--peers", "200", "--rate", "1000", "--late-bound", "5s",
                        "--baseline", fast, "--max-regression", "1000%", "--max-regression", "join_rate=50%"});
  INFO(same.out << same.err);
  CHECK(same.status == 0);
  std::filesystem::remove(fast);
  std::filesystem::remove(now);
}

TEST_CASE("capacity search: the highest rate that held, and the curve", "[sigbench][capacity]") {
  sigserve_process server;
  auto report = temp_path("capacity.json");
  // A condition that breaks at a known rate: with 1 s per step, a step at
  // R arrivals per second joins R peers.
  auto r = sigbench({"--url", server.ws_url(), "--find-capacity", "joined<=150", "--rate-start", "50", "--rate-step",
                     "50", "--duration", "1s", "--late-bound", "5s", "--json", report});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  auto j = read_json(report);
  REQUIRE(j.contains("capacity"));
  CHECK(j["capacity"]["highest_rate"] == 150);
  CHECK(j["capacity"]["steps"].size() == 4);
  CHECK(r.out.find("held up to 150/s") != std::string::npos);
  std::filesystem::remove(report);
}

TEST_CASE("on GitHub Actions the Markdown summary is appended to the step summary", "[sigbench][ci]") {
  sigserve_process server;
  auto summary = temp_path("step-summary.md");
  std::ofstream(summary) << "earlier step\n";
  setenv("GITHUB_STEP_SUMMARY", summary.c_str(), 1);
  auto r = sigbench({"--url", server.ws_url(), "--peers", "20", "--late-bound", "5s"});
  unsetenv("GITHUB_STEP_SUMMARY");
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  std::ifstream in(summary);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text.rfind("earlier step\n", 0) == 0);
  CHECK(text.find("PASSED") != std::string::npos);
  CHECK(text.find("| join |") != std::string::npos);
  std::filesystem::remove(summary);
}
