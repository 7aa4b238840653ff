// sigbench against signaling servers that are not sigserve (tests/dialects,
// real Node.js servers on the npm packages people use): the WebRTC codelab's
// socket.io server and a ws relay keyed by client id, described by a
// dialect file. Judged as CI would: exit code and JSON report.
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/node_server.hpp"
#include "support/sigserve_process.hpp"

using json = nlohmann::json;
using sigkit::test::node_server;
using sigkit::test::run_command;

namespace {

struct run_result {
  int status;
  std::string out, err;
  json report;
};

run_result sigbench(std::vector<std::string> args) {
  auto path = (std::filesystem::temp_directory_path() / ("sigbench-dialect-" + std::to_string(getpid()) + ".json")).string();
  args.insert(args.begin(), {SIGKIT_SIGBENCH_PATH, "--quiet", "--late-bound", "5s", "--json", path});
  auto r = run_command(args);
  run_result out{r.status, r.out, r.err, json()};
  if (std::ifstream in(path); in) out.report = json::parse(in);
  std::filesystem::remove(path);
  return out;
}

std::string codelab_url(const node_server& s) {
  return "ws://127.0.0.1:" + std::to_string(s.port()) + "/socket.io/?EIO=4&transport=websocket";
}

}  // namespace

TEST_CASE("socketio-codelab: one room at a time negotiates through the codelab server", "[sigbench][dialect]") {
  node_server server("codelab_server.mjs");
  // Rooms of two that come and go one after the other: the server's
  // broadcast to every socket then reaches only the room.
  auto r = sigbench({"--dialect", "socketio-codelab", "--url", codelab_url(server), "--peers", "20", "--rate", "20"});
  INFO(r.out << r.err << server.log());
  CHECK(r.status == 0);
  CHECK(r.report["peers"]["joined"] == 20);
  CHECK(r.report["messages"]["sent"] == 100);
  CHECK(r.report["messages"]["received"] == 100);
  CHECK(r.report["latency_ms"]["negotiation"]["count"] == 10);
}

TEST_CASE("socketio-codelab: its broadcast to every socket is caught as misrouting", "[sigbench][dialect]") {
  node_server server("codelab_server.mjs");
  // Rooms that overlap in time: the codelab's socket.broadcast.emit sends
  // each room's offers to the members of every other room too.
  auto r = sigbench({"--dialect", "socketio-codelab", "--url", codelab_url(server), "--peers", "20", "--rate", "100",
                     "--hold", "1s"});
  INFO(r.out << r.err << server.log());
  CHECK(r.status == 1);
  CHECK(r.report["peers"]["joined"] == 20);
  CHECK(r.report["messages"]["lost"] == 0);
  CHECK(r.report["messages"]["misrouted"].get<int>() > 0);
  CHECK(r.err.find("misrouted==0 (default)") != std::string::npos);
}

TEST_CASE("socketio-codelab: a third member gets full, which counts as a refusal", "[sigbench][dialect]") {
  node_server server("codelab_server.mjs");
  // The codelab's rooms hold two; sigbench checks broadcast relays in rooms
  // of two only, so it refuses a bigger room before it starts.
  auto r = sigbench({"--dialect", "socketio-codelab", "--url", codelab_url(server), "--room-size", "3", "--peers", "6"});
  CHECK(r.status == 2);
  CHECK(r.err.find("broadcasts") != std::string::npos);
}

TEST_CASE("a dialect file: the ws relay keyed by client id", "[sigbench][dialect]") {
  node_server server("relay_server.mjs", {"--capacity", "4"});
  auto r = sigbench({"--dialect", SIGKIT_SOURCE_DIR "/scenarios/dialects/ws-relay.json", "--url",
                     "ws://127.0.0.1:" + std::to_string(server.port()) + "/", "--peers", "40", "--rate", "200",
                     "--room-size", "4", "--hold", "200ms", "--threshold", "relay.p99<1s"});
  INFO(r.out << r.err << server.log());
  CHECK(r.status == 0);
  CHECK(r.report["peers"]["joined"] == 40);
  // Each of 4 members offers to the 3 before it... every pair negotiates
  // once: 6 pairs x (offer + answer + 2 x 4 candidates) per room.
  CHECK(r.report["messages"]["sent"] == 10 * 6 * 10);
  CHECK(r.report["messages"]["received"] == r.report["messages"]["sent"]);
  CHECK(r.report["messages"]["misrouted"] == 0);
}

TEST_CASE("a dialect file: room-full from the relay is counted by its reason", "[sigbench][dialect]") {
  node_server server("relay_server.mjs", {"--capacity", "2"});
  auto r = sigbench({"--dialect", SIGKIT_SOURCE_DIR "/scenarios/dialects/ws-relay.json", "--url",
                     "ws://127.0.0.1:" + std::to_string(server.port()) + "/", "--peers", "6", "--rate", "100",
                     "--room-size", "3", "--negotiation-timeout", "2s"});
  INFO(r.out << r.err << server.log());
  CHECK(r.status == 1);
  CHECK(r.report["peers"]["joined"] == 4);
  CHECK(r.report["peers"]["failed"].get<int>() >= 2);
}

TEST_CASE("a server that answers in valid JSON of the wrong types ends the run with a reason", "[sigbench][dialect]") {
  // It used to hang sigbench forever: the exception was lost in a detached
  // coroutine. Now each session ends in a failure that says what was wrong.
  node_server server("scripted_server.mjs", {"--send", R"({"type":"welcome","protocol":"1","peer":"p1"})"});
  auto start = std::chrono::steady_clock::now();
  auto r = sigbench({"--url", "ws://127.0.0.1:" + std::to_string(server.port()) + "/ws", "--peers", "10", "--rate",
                     "100"});
  INFO(r.out << r.err);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  // Every peer that got this far failed the same way: sigbench stops
  // rather than hammer a server it cannot test, and says why.
  CHECK(r.status == 3);
  CHECK(r.err.find("welcome: /protocol is \"1\", not 1") != std::string::npos);
  CHECK(r.report["peers"]["joined"] == 0);
  REQUIRE(r.report["failures"].size() == 1);
  CHECK(r.report["failures"].begin().key().find("/protocol") != std::string::npos);
}

TEST_CASE("a server that does not speak the protocol is named as such", "[sigbench][dialect]") {
  node_server server("relay_server.mjs");
  auto r = sigbench({"--url", "ws://127.0.0.1:" + std::to_string(server.port()) + "/", "--peers", "10",
                     "--connect-timeout", "2s"});
  INFO(r.out << r.err);
  CHECK(r.status == 3);
  CHECK(r.err.find("not a sigkit server") != std::string::npos);
  REQUIRE(r.report["failures"].size() == 1);
  CHECK(r.report["failures"].begin().key().find("not a sigkit server") != std::string::npos);
}
