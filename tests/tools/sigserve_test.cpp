// sigserve as a user meets it: a real process on a free loopback port, driven
// by the library's client and by hand-made HTTP and WebSocket frames.
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <utility>

#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sigkit/client/client.hpp"
#include "support/expectations.hpp"
#include "support/raw_socket.hpp"
#include "support/server_figures.hpp"
#include "support/sigserve_process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::client::server_message;
using sigkit::test::connect;
using sigkit::test::expect;
using sigkit::test::expect_error;
using sigkit::test::expect_silence;
using sigkit::test::metric;
using sigkit::test::metrics_text;
using sigkit::test::sigserve_process;


TEST_CASE("welcome carries a fresh peer id, protocol 1 and the heartbeat", "[sigserve]") {
  sigserve_process s;
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  CHECK(a.welcome().peer.size() == 12);
  CHECK(a.welcome().peer != b.welcome().peer);
  CHECK(a.welcome().protocol == 1);
  CHECK(a.welcome().server.rfind("sigserve/", 0) == 0);
  CHECK(a.welcome().ping_interval == 25s);
  CHECK(a.welcome().ping_timeout == 60s);
}

TEST_CASE("two peers join, negotiate and part as the protocol says", "[sigserve]") {
  sigserve_process s;
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);

  REQUIRE(a.send(json{{"type", "join"}, {"room", "call"}, {"rid", 1}}) == std::error_code{});
  auto a_joined = expect(a, message_kind::joined);
  CHECK(a_joined.peers.empty());
  CHECK(a_joined.body["rid"] == 1);
  auto b_joined = b.join("call");
  REQUIRE(b_joined.ok());
  CHECK(b_joined->kind == message_kind::joined);
  CHECK(b_joined->peers == std::vector<std::string>{a.peer()});
  CHECK(expect(a, message_kind::peer_joined).peer == b.peer());

  // The newer member offers; a forged `from` is replaced; payload untouched.
  b.send(json{{"type", "offer"}, {"to", a.peer()}, {"from", "forged"}, {"sdp", "v=0\r\n"}, {"extra", {1, 2}}});
  auto offer = expect(a, message_kind::relay);
  CHECK(offer.type == "offer");
  CHECK(offer.from == b.peer());
  CHECK(offer.body["sdp"] == "v=0\r\n");
  CHECK(offer.body["extra"] == json::array({1, 2}));

  a.send(json{{"type", "answer"}, {"sdp", "answer-sdp"}});  // broadcast form
  CHECK(expect(b, message_kind::relay).from == a.peer());
  for (int i = 0; i < 4; ++i) a.send(json{{"type", "candidate"}, {"to", b.peer()}, {"candidate", {{"n", i}}}});
  for (int i = 0; i < 4; ++i) CHECK(expect(b, message_kind::relay).body["candidate"]["n"] == i);

  b.send(json{{"type", "leave"}, {"rid", "bye"}});
  auto left = expect(b, message_kind::left);
  CHECK(left.room == "call");
  CHECK(left.body["rid"] == "bye");
  CHECK(expect(a, message_kind::peer_left).peer == b.peer());
}

TEST_CASE("every error code reaches the client and the connection lives on", "[sigserve]") {
  sigserve_process s({"--rate-limit", "20", "--rate-burst", "20"});
  blocking_connection a, b, c;
  connect(a, s);
  connect(b, s);
  connect(c, s);

  a.send_text("{not json");
  expect_error(a, "bad-json");
  a.send_text(R"({"room":"x","rid":5})");
  CHECK(expect_error(a, "bad-message").body["rid"] == 5);
  a.send_text(R"({"type":"create","rid":"r"})");
  CHECK(expect_error(a, "unknown-type").body["rid"] == "r");
  a.send_text(R"({"type":"join","room":"no spaces"})");
  expect_error(a, "invalid-room");
  a.send_text(R"({"type":"leave"})");
  expect_error(a, "not-in-room");
  a.send_text(R"({"type":"offer","sdp":"x"})");
  expect_error(a, "not-in-room");

  REQUIRE(a.join("r1")->kind == message_kind::joined);
  REQUIRE(b.join("r1")->kind == message_kind::joined);
  expect(a, message_kind::peer_joined);
  a.send_text(R"({"type":"join","room":"r2"})");
  expect_error(a, "already-joined");
  auto full = c.join("r1");
  REQUIRE(full.ok());
  CHECK(full->code == "room-full");
  CHECK(full->text == "room r1 is full (2 of 2)");
  a.send(json{{"type", "offer"}, {"to", c.peer()}});  // c is in no room: isolation
  expect_error(a, "unknown-peer");

  // After all that, the connection still works.
  a.send_text(R"({"type":"ping","rid":99})");
  CHECK(expect(a, message_kind::pong).body["rid"] == 99);

  // Flood past the rate limit: some pings are refused with rate-limited,
  // every one is answered one way or the other, and nothing else happens.
  for (int i = 0; i < 60; ++i) c.send(json{{"type", "ping"}, {"rid", i}});
  int pongs = 0, limited = 0;
  for (int i = 0; i < 60; ++i) {
    auto m = c.receive(3s);
    REQUIRE(m.ok());
    if (m->kind == message_kind::pong) ++pongs;
    if (m->code == "rate-limited") ++limited;
    CHECK(m->body["rid"] == i);  // in order, each with its rid
  }
  CHECK(pongs >= 15);  // the burst, less what c already spent on its join
  CHECK(limited > 0);
  CHECK(pongs + limited == 60);
  expect_silence(b);  // b saw nothing of c's or a's mistakes

  auto text = metrics_text(s.port());
  CHECK(metric(text, R"(sigserve_errors_total{code="bad-json"})") == 1);
  CHECK(metric(text, R"(sigserve_errors_total{code="room-full"})") == 1);
  CHECK(metric(text, R"(sigserve_errors_total{code="rate-limited"})") == limited);
}

TEST_CASE("messages from one sender arrive in order across threads", "[sigserve]") {
  sigserve_process s({"--threads", "2", "--rate-limit", "0"});
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("order");
  b.join("order");
  expect(a, message_kind::peer_joined);
  constexpr int count = 2000;
  for (int i = 0; i < count; ++i) a.send(json{{"type", "message"}, {"seq", i}});
  for (int i = 0; i < count; ++i) {
    auto m = expect(b, message_kind::relay);
    REQUIRE(m.body["seq"] == i);
  }
}

TEST_CASE("isolation: other rooms hear nothing", "[sigserve]") {
  sigserve_process s({"--room-capacity", "0"});
  blocking_connection a, b, outsider;
  connect(a, s);
  connect(b, s);
  connect(outsider, s);
  a.join("inside");
  b.join("inside");
  outsider.join("outside");
  a.send_text(R"({"type":"message","text":"secret"})");
  CHECK(expect(b, message_kind::relay).body["text"] == "secret");
  a.send_text(R"({"type":"bye"})");
  expect(b, message_kind::relay);
  expect_silence(outsider);
}

TEST_CASE("a frame over --max-message-bytes closes with 1009 and others see peer-left", "[sigserve]") {
  sigserve_process s({"--max-message-bytes", "1024"});
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("big");
  b.join("big");
  expect(a, message_kind::peer_joined);
  a.send(json{{"type", "message"}, {"pad", std::string(900, 'x')}});  // under the limit: relayed
  expect(b, message_kind::relay);
  a.send(json{{"type", "message"}, {"pad", std::string(2000, 'x')}});
  auto closed = a.receive(3s);
  REQUIRE_FALSE(closed.ok());
  CHECK(a.close_code() == 1009);
  CHECK(expect(b, message_kind::peer_left).peer == a.peer());
}

TEST_CASE("a binary frame closes with 1003", "[sigserve]") {
  sigserve_process s;
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("bin");
  b.join("bin");
  expect(a, message_kind::peer_joined);
  a.send_binary("\x01\x02\x03");
  REQUIRE_FALSE(a.receive(3s).ok());
  CHECK(a.close_code() == 1003);
  CHECK(expect(b, message_kind::peer_left).peer == a.peer());
}

TEST_CASE("a text frame that is not UTF-8 closes with 1007", "[sigserve]") {
  sigserve_process s;
  sigkit::test::raw_socket raw(s.port());
  REQUIRE(raw.upgrade().find(" 101 ") != std::string::npos);
  raw.send_frame(0x1, "{\"type\":\"ping\",\"x\":\"\xff\xfe\"}");
  // Server close frame: FIN+close opcode, 2-byte payload, code 1007.
  const std::string close_1007("\x88\x02\x03\xef", 4);
  CHECK(raw.read_until(close_1007, 3s).find(close_1007) != std::string::npos);
}

TEST_CASE("foreign origins get 403 before the upgrade; allowed ones get through", "[sigserve]") {
  sigserve_process s;
  auto refused = sigkit::test::raw_socket(s.port()).upgrade("Origin: https://evil.example\r\n");
  CHECK(sigkit::test::http_status(refused) == 403);
  auto local = sigkit::test::raw_socket(s.port()).upgrade("Origin: http://localhost:3000\r\n");
  CHECK(sigkit::test::http_status(local) == 101);

  sigserve_process listed({"--allowed-origin", "https://app.example.com"});
  CHECK(sigkit::test::http_status(sigkit::test::raw_socket(listed.port()).upgrade(
            "Origin: https://app.example.com\r\n")) == 101);
  CHECK(sigkit::test::http_status(sigkit::test::raw_socket(listed.port()).upgrade(
            "Origin: http://localhost:3000\r\n")) == 403);
  CHECK(metric(metrics_text(listed.port()), R"(sigserve_upgrades_refused_total{reason="origin"})") == 1);
}

TEST_CASE("beyond --max-connections upgrades get 503", "[sigserve]") {
  sigserve_process s({"--max-connections", "2"});
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  auto refused = sigkit::test::raw_socket(s.port()).upgrade();
  CHECK(sigkit::test::http_status(refused) == 503);
  CHECK(refused.find("\r\nRetry-After: 5\r\n") != std::string::npos);  // when to come back
  a.close();
  // The slot frees once the server has torn the session down.
  int status = 0;
  for (int i = 0; i < 50 && status != 101; ++i) {
    std::this_thread::sleep_for(20ms);
    status = sigkit::test::http_status(sigkit::test::raw_socket(s.port()).upgrade());
  }
  CHECK(status == 101);
}

TEST_CASE("SIGTERM closes every connection with 1001 and exits 0", "[sigserve]") {
  sigserve_process s;
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("drain");
  b.join("drain");
  expect(a, message_kind::peer_joined);
  auto start = std::chrono::steady_clock::now();
  auto status = s.stop(SIGTERM, 3s);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  REQUIRE(status);
  CHECK(*status == 0);
  for (auto* c : {&a, &b}) {
    for (;;) {  // a peer-left may come first
      auto m = c->receive(2s);
      if (!m.ok()) break;
    }
    CHECK(c->close_code() == 1001);
  }
}

TEST_CASE("HTTP endpoints: demo page, health, metrics", "[sigserve]") {
  sigserve_process s;
  using sigkit::test::http_request;
  using sigkit::test::http_status;
  auto page = http_request(s.port(), "GET", "/");
  CHECK(http_status(page) == 200);
  CHECK(page.find("id=\"status\"") != std::string::npos);
  CHECK(page.find("text/html") != std::string::npos);
  CHECK(http_status(http_request(s.port(), "GET", "/my-room")) == 200);
  CHECK(http_status(http_request(s.port(), "GET", "/a/b")) == 404);
  CHECK(http_status(http_request(s.port(), "POST", "/")) == 405);
  auto health = http_request(s.port(), "GET", "/healthz");
  CHECK(http_status(health) == 200);

  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("m");
  b.join("m");
  expect(a, message_kind::peer_joined);
  b.send_text(R"({"type":"offer","sdp":"x"})");
  expect(a, message_kind::relay);
  auto text = metrics_text(s.port());
  CHECK(text.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(metric(text, "sigserve_connections_open") == 2);
  CHECK(metric(text, "sigserve_rooms") == 1);
  CHECK(metric(text, "sigserve_joins_total") == 2);
  CHECK(metric(text, R"(sigserve_messages_relayed_total{type="offer"})") == 1);
  CHECK(metric(text, "sigserve_join_duration_seconds_count") == 2);
  CHECK(metric(text, R"(sigserve_join_duration_seconds_bucket{le="+Inf"})") == 2);
  // What memory per connection is watched with in production.
  CHECK(metric(text, R"(sigserve_build_info{version="0.1.0"})") == 1);
  CHECK(metric(text, "process_resident_memory_bytes") > 1e6);
  CHECK(metric(text, "process_open_fds") >= 4);  // two WebSockets, the scrape, the listener
  CHECK(metric(text, "process_max_fds") >= metric(text, "process_open_fds"));
  CHECK(metric(text, "process_cpu_seconds_total") >= 0);
  CHECK(metric(text, "process_start_time_seconds") > 1.7e9);
  CHECK(metric(text, "sigserve_ready") == 1);
  CHECK(sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/readyz")) == 200);
}

TEST_CASE("a --static directory is served and never escaped", "[sigserve]") {
  char tmpl[] = "/tmp/sigserve-static-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/index.html") << "<p id=status>custom</p>";
  std::ofstream(dir + "/app.js") << "console.log(1)";
  sigserve_process s({"--static", dir});
  using sigkit::test::http_request;
  using sigkit::test::http_status;
  CHECK(http_request(s.port(), "GET", "/").find("custom") != std::string::npos);
  CHECK(http_request(s.port(), "GET", "/some-room").find("custom") != std::string::npos);
  auto js = http_request(s.port(), "GET", "/app.js");
  CHECK(js.find("text/javascript") != std::string::npos);
  for (auto evil : {"/../../etc/passwd", "/..%2f..%2fetc/passwd", "/%2e%2e/etc/passwd", "//etc/passwd"}) {
    INFO(evil);
    CHECK(http_status(http_request(s.port(), "GET", evil)) == 404);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("listening on :: takes IPv6 and IPv4; 0.0.0.0 takes IPv4", "[sigserve]") {
  sigserve_process everywhere({"--listen", "::"});
  for (auto url : {"ws://[::1]:" + std::to_string(everywhere.port()) + "/ws",
                   "ws://127.0.0.1:" + std::to_string(everywhere.port()) + "/ws"}) {
    blocking_connection c;
    INFO(url);
    CHECK_FALSE(c.connect(url));
    CHECK(c.welcome().protocol == 1);
  }
  sigserve_process v4({"--listen", "0.0.0.0"});
  blocking_connection c;
  CHECK_FALSE(c.connect(v4.ws_url()));
}

TEST_CASE("a host name for --listen is resolved and served", "[sigserve]") {
  sigserve_process s({"--listen", "localhost"});
  for (auto url : {"ws://localhost:" + std::to_string(s.port()) + "/ws", s.ws_url()}) {
    blocking_connection c;
    INFO(url << "\nserver log:\n" << s.log());
    REQUIRE_FALSE(c.connect(url));
    CHECK(c.welcome().protocol == 1);
  }
}

TEST_CASE("the start line echoes the effective settings, numbers as numbers", "[sigserve][cli]") {
  setenv("SIGSERVE_RATE_LIMIT", "50", 1);
  sigserve_process s({"--log-format", "json", "--room-capacity", "3", "--threads", "2"});
  unsetenv("SIGSERVE_RATE_LIMIT");
  std::string line;
  for (int i = 0; i < 100 && line.empty(); ++i) {  // the logger writes from its own thread
    auto log = s.log();
    auto at = log.find("\"event\":\"start\"");
    if (at != std::string::npos) {
      auto begin = log.rfind('\n', at);
      begin = begin == std::string::npos ? 0 : begin + 1;
      line = log.substr(begin, log.find('\n', at) - begin);
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  INFO(s.log());
  REQUIRE_FALSE(line.empty());
  auto start = json::parse(line);
  CHECK(start["threads"] == 2);
  CHECK(start["room_capacity"] == 3);
  CHECK(start["max_connections"] == 10000);
  CHECK(start["max_http_connections"] == 1024);
  CHECK(start["max_message_bytes"] == 65536);
  CHECK(start["ping_interval_ms"] == 25000);
  CHECK(start["ping_timeout_ms"] == 60000);
  CHECK(start["rate_limit"] == 50);  // from the environment
  CHECK(start["origins"] == "default");
  CHECK(start["static"] == "built-in");
  CHECK(start["log_level"] == "info");
  CHECK(start["url"] == "http://127.0.0.1:" + std::to_string(s.port()));
}

TEST_CASE("an open-files limit below what the limits need is warned about", "[sigserve][cli]") {
  using sigkit::test::run_command;
  // A port already taken makes sigserve exit 1 right after its checks, which
  // is all this needs; `ulimit -n` in sh lowers both the soft and hard limit.
  sigserve_process taken;
  auto port = std::to_string(taken.port());
  auto low = run_command({"/bin/sh", "-c", "ulimit -n 512 && exec \"$0\" \"$@\"", sigkit::test::sigserve_path(),
                          "--port", port});
  INFO(low.err);
  CHECK(low.status == 1);
  CHECK(low.err.find("open-files-limit") != std::string::npos);
  CHECK(low.err.find("ulimit -n") != std::string::npos);
  CHECK(low.err.find("LimitNOFILE=") != std::string::npos);

  auto enough = run_command({"/bin/sh", "-c", "ulimit -n 512 && exec \"$0\" \"$@\"", sigkit::test::sigserve_path(),
                             "--port", port, "--max-connections", "100", "--max-http-connections", "100",
                             "--threads", "1"});
  INFO(enough.err);
  CHECK(enough.status == 1);
  CHECK(enough.err.find("open-files-limit") == std::string::npos);
}

TEST_CASE("options come from flags, a config file and the environment", "[sigserve][cli]") {
  SECTION("environment") {
    setenv("SIGSERVE_ROOM_CAPACITY", "3", 1);
    sigserve_process s;
    unsetenv("SIGSERVE_ROOM_CAPACITY");
    blocking_connection a, b, c;
    for (auto* x : {&a, &b, &c}) {
      connect(*x, s);
      CHECK(x->join("three")->kind == message_kind::joined);
    }
  }
  SECTION("config file") {
    char path[] = "/tmp/sigserve-config-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    std::ofstream(path) << "room-capacity = 1\nping-interval = \"5s\"\nping-timeout = \"12s\"\n";
    sigserve_process s({"--config", path});
    blocking_connection a, b;
    connect(a, s);
    connect(b, s);
    CHECK(a.welcome().ping_interval == 5s);
    CHECK(a.join("one")->kind == message_kind::joined);
    CHECK(b.join("one")->code == "room-full");
    std::remove(path);
  }
  SECTION("a flag beats the environment, which beats the file") {
    char path[] = "/tmp/sigserve-config-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    std::ofstream(path) << "room-capacity = 1\nping-interval = \"5s\"\nping-timeout = \"12s\"\n";
    setenv("SIGSERVE_ROOM_CAPACITY", "3", 1);
    setenv("SIGSERVE_PING_INTERVAL", "7s", 1);
    sigserve_process s({"--config", path, "--ping-interval", "9s"});
    unsetenv("SIGSERVE_ROOM_CAPACITY");
    unsetenv("SIGSERVE_PING_INTERVAL");
    blocking_connection a, b, c, d;
    for (auto* x : {&a, &b, &c, &d}) connect(*x, s);
    CHECK(a.welcome().ping_interval == 9s);  // flag over environment (7s) and file (5s)
    CHECK(a.welcome().ping_timeout == 12s);  // the file fills what neither set
    for (auto* x : {&a, &b, &c}) CHECK(x->join("prec")->kind == message_kind::joined);
    CHECK(d.join("prec")->code == "room-full");  // environment (3) over file (1)
    std::remove(path);
  }
  SECTION("the config file's path may come from the environment") {
    char path[] = "/tmp/sigserve-config-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    std::ofstream(path) << "room-capacity = 1\n";
    setenv("SIGSERVE_CONFIG", path, 1);
    sigserve_process s;
    unsetenv("SIGSERVE_CONFIG");
    blocking_connection a, b;
    connect(a, s);
    connect(b, s);
    CHECK(a.join("one")->kind == message_kind::joined);
    CHECK(b.join("one")->code == "room-full");
    std::remove(path);
  }
}

namespace {

// A config file for one test, removed at the end of it.
struct temp_config {
  std::string path;
  explicit temp_config(const std::string& text) {
    char tmpl[] = "/tmp/sigserve-config-XXXXXX";
    int fd = mkstemp(tmpl);
    close(fd);
    path = tmpl;
    std::ofstream(path) << text;
  }
  ~temp_config() { std::remove(path.c_str()); }
};

// The one line a usage error must be.
void check_usage_error(const sigkit::test::command_result& r) {
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.err.rfind("sigserve: ", 0) == 0);
}

}  // namespace

TEST_CASE("a mistake in the config file or the environment says where it is", "[sigserve][cli]") {
  using sigkit::test::run_command;
  auto bin = sigkit::test::sigserve_path();
  SECTION("an unknown key, with the closest option") {
    temp_config file("port = 0\nroom-capacty = 3\n");
    auto r = run_command({bin, "--config", file.path});
    check_usage_error(r);
    CHECK(r.err == "sigserve: unknown option 'room-capacty' in " + file.path + " (did you mean 'room-capacity'?)\n");
  }
  SECTION("an unknown key far from any option") {
    temp_config file("colour = \"blue\"\n");
    auto r = run_command({bin, "--config", file.path});
    check_usage_error(r);
    CHECK(r.err.find("unknown option 'colour' in " + file.path) != std::string::npos);
    CHECK(r.err.find("did you mean") == std::string::npos);
  }
  SECTION("a section") {
    temp_config file("[server]\nport = 0\n");
    auto r = run_command({bin, "--config", file.path});
    check_usage_error(r);
    CHECK(r.err.find("unknown section [server] in " + file.path) != std::string::npos);
  }
  SECTION("a bad value in the file names the file and the key") {
    temp_config file("room-capacity = -1\n");
    auto r = run_command({bin, "--config", file.path});
    check_usage_error(r);
    CHECK(r.err.rfind("sigserve: " + file.path + ": room-capacity = -1: ", 0) == 0);
  }
  SECTION("a missing file") {
    auto r = run_command({bin, "--config", "/nonexistent/sigserve.toml"});
    check_usage_error(r);
    CHECK(r.err.find("/nonexistent/sigserve.toml") != std::string::npos);
  }
  SECTION("a bad value in the environment names the variable") {
    setenv("SIGSERVE_PORT", "abc", 1);
    auto r = run_command({bin});
    unsetenv("SIGSERVE_PORT");
    check_usage_error(r);
    CHECK(r.err.rfind("sigserve: SIGSERVE_PORT=abc: ", 0) == 0);
  }
  SECTION("a cross-check names where each value came from") {
    setenv("SIGSERVE_PING_TIMEOUT", "5s", 1);
    auto r = run_command({bin, "--ping-interval", "10s"});
    unsetenv("SIGSERVE_PING_TIMEOUT");
    check_usage_error(r);
    CHECK(r.err == "sigserve: SIGSERVE_PING_TIMEOUT (5s) must be longer than --ping-interval (10s)\n");
  }
}

TEST_CASE("numbers outside their range are refused, not wrapped", "[sigserve][cli]") {
  using sigkit::test::run_command;
  auto bin = sigkit::test::sigserve_path();
  // -1 once meant "unlimited" (unsigned wrap-around) for --room-capacity and
  // a 300-digit bound for --rate-limit.
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--room-capacity", "-1"}, {"--room-capacity=-1"}, {"--rate-limit", "-1"},
        {"--rate-limit", "nan"}, {"--rate-limit", "inf"}, {"--rate-burst", "0"}, {"--port", "65536"},
        {"--port", "010"}, {"--max-connections", "0"}, {"--threads", "1025"}, {"--max-message-bytes", "0x100"},
        {"--write-timeout", "-1s"}, {"--drain-timeout", "-1s"}, {"--ping-timeout", "500us"}, {"--listen", ""},
        {"--max-send-queue-bytes", "2048", "--max-queued-bytes", "1024"}}) {
    auto flag = bad[0].substr(0, bad[0].find('='));
    bad.insert(bad.begin(), bin);
    auto r = run_command(bad);
    INFO(bad[1] << " " << (bad.size() > 2 ? bad[2] : ""));
    check_usage_error(r);
    CHECK(r.err.find(flag) != std::string::npos);  // refused for this flag, not for something else
  }
}

TEST_CASE("sigserve --help, --version and bad flags", "[sigserve][cli]") {
  using sigkit::test::run_command;
  auto bin = sigkit::test::sigserve_path();
  auto help = run_command({bin, "--help"});
  CHECK(help.status == 0);
  for (auto flag : {"--listen", "--port", "--room-capacity", "--max-message-bytes", "--ping-interval",
                    "--ping-timeout", "--handshake-timeout", "--max-connections", "--max-send-queue-bytes",
                    "--allowed-origin", "--static", "--threads", "--log-level", "--log-format", "--config",
                    "--rate-limit", "--rate-burst"}) {
    INFO(flag);
    CHECK(help.out.find(flag) != std::string::npos);
  }
  // The new flags, each with its default and its variable.
  for (auto [flag, shown] : {std::pair{"--write-timeout", "=10s"}, {"--max-http-connections", "=1024"},
                             {"--max-queued-bytes", "=268435456"}, {"--static-max-bytes", "=16777216"},
                             {"--drain-delay", "=0"}, {"--drain-timeout", "=1500ms"},
                             {"--max-send-queue-bytes", "=262144"}}) {
    INFO(flag);
    auto at = help.out.find(std::string(flag) + " ");
    REQUIRE(at != std::string::npos);
    auto line = help.out.substr(at, help.out.find('\n', at) - at);
    CHECK(line.find(shown) != std::string::npos);
    std::string variable = std::string("SIGSERVE_") + (flag + 2);
    std::replace(variable.begin(), variable.end(), '-', '_');
    std::transform(variable.begin(), variable.end(), variable.begin(), [](unsigned char c) { return std::toupper(c); });
    CHECK(line.find("(Env:" + variable + ")") != std::string::npos);
  }
  auto version = run_command({bin, "--version"});
  CHECK(version.status == 0);
  CHECK(version.out.find("sigserve 0.1.0") != std::string::npos);

  for (std::vector<std::string> bad : {std::vector<std::string>{"--port", "abc"}, {"--bogus"},
                                       {"--ping-interval", "5 parsecs"}, {"--log-level", "loud"},
                                       {"--ping-interval", "10s", "--ping-timeout", "5s"}}) {
    bad.insert(bad.begin(), bin);
    auto r = run_command(bad);
    INFO(bad[1]);
    CHECK(r.status == 2);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.rfind("sigserve: ", 0) == 0);
  }
  // A port already taken is a start failure (exit 1), said in one line.
  sigserve_process taken;
  auto busy = run_command({bin, "--port", std::to_string(taken.port())});
  CHECK(busy.status == 1);
  CHECK(busy.err.find("cannot listen") != std::string::npos);
}

TEST_CASE("every welcome carries the ICE servers, with TURN credentials minted for that connection", "[sigserve]") {
  sigserve_process s({"--stun-uri", "stun:stun.example.org:3478", "--turn-uri", "turn:127.0.0.1:3478?transport=udp",
                      "--turn-uri", "turns:turn.example.org:5349", "--turn-secret", "north", "--turn-ttl", "10m"});
  auto welcome_of = [&] {
    sigkit::test::raw_socket raw(s.port());
    // The welcome comes in the same write as the 101.
    auto bytes = raw.upgrade();
    REQUIRE(bytes.find(" 101 ") != std::string::npos);
    if (bytes.find("}]}") == std::string::npos) bytes += raw.read_until("}]}", 3s);
    auto start = bytes.find("{\"type\"");
    REQUIRE(start != std::string::npos);
    return json::parse(bytes.substr(start));
  };
  auto a = welcome_of();
  auto b = welcome_of();
  CHECK(a["features"] == json::array({"ice-servers"}));
  REQUIRE(a["ice_servers"].size() == 2);
  CHECK(a["ice_servers"][0]["urls"] == json::array({"stun:stun.example.org:3478"}));
  auto turn = a["ice_servers"][1];
  CHECK(turn["urls"].size() == 2);
  // username "<expiry>:<peer id>": expiry in seconds, ten minutes ahead.
  auto username = turn["username"].get<std::string>();
  auto colon = username.find(':');
  REQUIRE(colon != std::string::npos);
  CHECK(username.substr(colon + 1) == a["peer"]);
  auto expiry = std::stoll(username.substr(0, colon));
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(expiry > now + 590);
  CHECK(expiry <= now + 601);
  CHECK(turn["credential"].get<std::string>().size() == 28);  // base64 of a 20-byte HMAC-SHA1
  CHECK(b["ice_servers"][1]["credential"] != turn["credential"]);

  using sigkit::test::run_command;
  auto bin = sigkit::test::sigserve_path();
  auto no_secret = run_command({bin, "--turn-uri", "turn:127.0.0.1"});
  CHECK(no_secret.status == 2);
  CHECK(no_secret.err.find("--turn-secret") != std::string::npos);
  auto wrong_kind = run_command({bin, "--stun-uri", "turn:127.0.0.1"});
  CHECK(wrong_kind.status == 2);
  auto garbage = run_command({bin, "--turn-uri", "http://example.org", "--turn-secret", "x"});
  CHECK(garbage.status == 2);
}

TEST_CASE("room history: a late joiner gets the room's last broadcast messages", "[sigserve][history]") {
  sigserve_process s({"--room-history", "2", "--room-capacity", "3"});
  blocking_connection a, b, c;
  connect(a, s);
  connect(b, s);
  REQUIRE(a.join("chat").ok());
  REQUIRE(b.join("chat").ok());
  expect(a, message_kind::peer_joined);
  for (int i = 1; i <= 3; ++i) {
    a.send(json{{"type", "message"}, {"text", std::to_string(i)}});
    expect(b, message_kind::relay);
  }
  connect(c, s);
  auto joined = c.join("chat");
  REQUIRE(joined.ok());
  const auto& history = joined->body["history"];
  REQUIRE(history.size() == 2);
  CHECK(history[0]["text"] == "2");
  CHECK(history[1]["text"] == "3");
  CHECK(history[1]["from"] == a.peer());
  CHECK(history[1]["ts"].is_number_integer());
}
