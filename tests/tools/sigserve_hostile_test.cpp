// sigserve against clients that misbehave on purpose: peers that stop
// reading, half-close, trickle their requests, send wrong types, or leave
// without a word. Each must cost little, go away on time, and leave every
// other client and every slot as they were.
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

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
using sigkit::test::connect;
using sigkit::test::expect;
using sigkit::test::expect_silence;
using sigkit::test::metric;
using sigkit::test::metrics_text;
using sigkit::test::raw_socket;
using sigkit::test::sigserve_process;

namespace {

// A WebSocket peer that joins `room` and then never reads again; its small
// receive buffer fills after a few KiB.
std::unique_ptr<raw_socket> silent_peer(const sigserve_process& s, const std::string& room) {
  auto raw = std::make_unique<raw_socket>(s.port(), 4096);
  REQUIRE(raw->upgrade().find(" 101 ") != std::string::npos);
  raw->send_frame(0x1, json{{"type", "join"}, {"room", room}}.dump());
  REQUIRE(raw->read_until("\"joined\"", 3s).find("\"joined\"") != std::string::npos);
  return raw;
}


// Relays large messages at the room until the server holds a backlog for
// the silent member (its socket is full); returns the backlog seen.
double fill_backlog(blocking_connection& sender, const sigserve_process& s) {
  const std::string pad(60'000, 'x');
  for (int i = 0; i < 2'000; ++i) {
    REQUIRE(sender.send(json{{"type", "message"}, {"pad", pad}}) == std::error_code{});
    if (i % 8 == 7) {
      auto queued = metric(metrics_text(s.port()), "sigserve_queued_bytes");
      if (queued > 0) return queued;
    }
  }
  FAIL("the server never held a backlog for the silent peer");
  return 0;
}

// A room of two in which one member has stopped reading and the server
// already holds a backlog for it.
struct stuck_room {
  stuck_room(const sigserve_process& s, const std::string& room) : silent(silent_peer(s, room)) {
    connect(sender, s);
    auto joined = sender.join(room);
    REQUIRE(joined.ok());
    REQUIRE(joined->kind == message_kind::joined);
    REQUIRE(joined->peers.size() == 1);
    silent_id = joined->peers[0];
    fill_backlog(sender, s);
  }
  std::unique_ptr<raw_socket> silent;
  blocking_connection sender;
  std::string silent_id;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

int upgrade_status(const sigserve_process& s) {
  return sigkit::test::http_status(raw_socket(s.port()).upgrade());
}

}  // namespace

TEST_CASE("a receiver that stops reading is closed with 1008, and the sender is told", "[sigserve][hostile]") {
  sigserve_process s({"--max-send-queue-bytes", "65536", "--rate-limit", "0", "--handshake-timeout", "1s"});
  auto slow = silent_peer(s, "slow");
  blocking_connection sender;
  connect(sender, s);
  auto joined = sender.join("slow");
  REQUIRE(joined->kind == message_kind::joined);
  REQUIRE(joined->peers.size() == 1);
  auto slow_id = joined->peers[0];

  // Kernel buffers absorb a few MiB before the server's queue starts to grow.
  std::string pad(32 * 1024, 'x');
  bool told = false;
  for (int i = 0; i < 1000 && !told; ++i) {
    REQUIRE(sender.send(json{{"type", "message"}, {"pad", pad}}) == std::error_code{});
    auto m = sender.receive(0ms);
    if (m.ok()) {
      REQUIRE(m->kind == message_kind::peer_left);
      CHECK(m->peer == slow_id);
      told = true;
    }
  }
  if (!told) CHECK(expect(sender, message_kind::peer_left).peer == slow_id);
  CHECK(metric(metrics_text(s.port()), "sigserve_send_queue_overflows_total") == 1);
  // The close is counted once the handshake ends: the peer never answers,
  // so after --handshake-timeout.
  double closes = 0;
  for (int i = 0; i < 100 && closes == 0; ++i) {
    std::this_thread::sleep_for(30ms);
    closes = metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="send_queue_overflow"})");
  }
  CHECK(closes == 1);
  CHECK(slow->closed_by_peer(3s));
}

TEST_CASE("a peer that stops answering pings is dropped after --ping-timeout", "[sigserve][hostile]") {
  sigserve_process s({"--ping-interval", "200ms", "--ping-timeout", "700ms"});
  auto dead = silent_peer(s, "hb");
  blocking_connection alive;
  connect(alive, s);
  auto joined = alive.join("hb");
  REQUIRE(joined->peers.size() == 1);
  // `alive` answers pings (its reader runs while it waits), `dead` does not.
  auto start = std::chrono::steady_clock::now();
  auto left = expect(alive, message_kind::peer_left, 5s);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(left.peer == joined->peers[0]);
  CHECK(waited >= 500ms);
  CHECK(waited < 3s);
  CHECK(dead->closed_by_peer(2s));
  expect_silence(alive, 1500ms);  // still connected well past the timeout
  alive.send_text(R"({"type":"ping"})");
  expect(alive, message_kind::pong);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="heartbeat_timeout"})") == 1);
}

TEST_CASE("a peer that stops reading and then half-closes gives its slot back", "[sigserve][hostile]") {
  sigserve_process s({"--max-connections", "2", "--max-send-queue-bytes", "67108864", "--rate-limit", "0",
                      "--handshake-timeout", "1s", "--write-timeout", "60s"});
  stuck_room room(s, "leak");
  CHECK(upgrade_status(s) == 503);  // both slots taken

  room.silent->shutdown_write();
  // Within the handshake timeout the slot is free again and the room knows.
  auto left = room.sender.receive(2s);
  REQUIRE(left.ok());
  CHECK(left->kind == message_kind::peer_left);
  CHECK(left->peer == room.silent_id);
  CHECK(eventually([&] { return metric(metrics_text(s.port()), "sigserve_connections_open") == 1; }, 1500ms));
  CHECK(upgrade_status(s) == 101);
  CHECK(metric(metrics_text(s.port()), "sigserve_queued_bytes") == 0);
}

TEST_CASE("a peer that stops reading costs the server under a tenth of a core", "[sigserve][hostile]") {
  sigserve_process s({"--ping-interval", "50ms", "--ping-timeout", "60s", "--write-timeout", "60s",
                      "--max-send-queue-bytes", "67108864", "--rate-limit", "0"});
  stuck_room room(s, "spin");

  // Pings are due every 50 ms and cannot be written, and the peer keeps
  // sending; the server must wait, not spin.
  auto before = sigkit::test::cpu_seconds(s.pid());
  auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 2s) {
    room.silent->send_frame(0x9, "");  // WebSocket pings, whose pongs cannot be written either
    std::this_thread::sleep_for(20ms);
  }
  auto used = sigkit::test::cpu_seconds(s.pid()) - before;
  CHECK(used < 0.2);  // 10% of one core over 2 s
}

TEST_CASE("a peer whose queue does not move for --write-timeout is closed and its room told", "[sigserve][hostile]") {
  sigserve_process s({"--write-timeout", "1s", "--max-send-queue-bytes", "67108864", "--rate-limit", "0"});
  stuck_room room(s, "stuck");
  auto start = std::chrono::steady_clock::now();
  auto left = room.sender.receive(4s);
  REQUIRE(left.ok());
  CHECK(left->kind == message_kind::peer_left);
  CHECK(left->peer == room.silent_id);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="write_timeout"})") == 1);
  CHECK(room.silent->closed_by_peer(2s));
}

TEST_CASE("the process-wide cap on queued bytes closes the receivers that would pass it", "[sigserve][hostile]") {
  sigserve_process s({"--max-queued-bytes", "1048576", "--max-send-queue-bytes", "1048576", "--rate-limit", "0",
                      "--room-capacity", "3", "--write-timeout", "60s"});
  auto slow1 = silent_peer(s, "cap");
  auto slow2 = silent_peer(s, "cap");
  blocking_connection sender;
  connect(sender, s);
  REQUIRE(sender.join("cap")->kind == message_kind::joined);
  const std::string pad(60'000, 'x');
  int left = 0;
  for (int i = 0; i < 2'000 && left < 2; ++i) {
    REQUIRE(sender.send(json{{"type", "message"}, {"pad", pad}}) == std::error_code{});
    while (auto m = sender.receive(0ms)) {
      if (!m.ok()) break;
      if (m->kind == message_kind::peer_left) ++left;
    }
  }
  while (left < 2) {
    auto m = sender.receive(3s);
    REQUIRE(m.ok());
    if (m->kind == message_kind::peer_left) ++left;
  }
  auto text = metrics_text(s.port());
  CHECK(metric(text, R"(sigserve_closes_total{reason="send_queue_overflow"})") == 2);
  CHECK(metric(text, "sigserve_queued_bytes") <= 1048576 + 65536);
}

TEST_CASE("request targets that are not a path get 400 and the server lives on", "[sigserve][hostile]") {
  sigserve_process s;
  for (auto target : {"?x", "*", "http://example.org/", "x"}) {
    INFO(target);
    raw_socket raw(s.port());
    raw.write(std::string("GET ") + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(sigkit::test::http_status(raw.read_until("\r\n\r\n", 3s)) == 400);
  }
  raw_socket garbage(s.port());
  garbage.write("\x16\x03\x01\x02\x31\x01 not HTTP at all\r\n\r\n");
  CHECK(sigkit::test::http_status(garbage.read_until("\r\n\r\n", 3s)) == 400);
  CHECK(sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/healthz")) == 200);
}

TEST_CASE("slow-loris clients cannot keep a real client out, nor hold a slot past the timeout", "[sigserve][hostile]") {
  sigserve_process s({"--max-http-connections", "8", "--handshake-timeout", "1s"});
  std::vector<std::unique_ptr<raw_socket>> loris;
  for (int i = 0; i < 30; ++i) {
    loris.push_back(std::make_unique<raw_socket>(s.port()));
    loris.back()->write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // and never the blank line
  }
  blocking_connection real;
  auto start = std::chrono::steady_clock::now();
  connect(real, s);
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
  // 31 connections for 8 places (the count settles as the server accepts them all).
  CHECK(eventually([&] { return metric(metrics_text(s.port()), "sigserve_http_evictions_total") >= 22; }, 2s));

  // One that trickles a byte every 100 ms is closed after the timeout anyway:
  // the whole request is bounded, not the gap between bytes.
  raw_socket trickle(s.port());
  start = std::chrono::steady_clock::now();
  std::string head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  bool closed = false;
  for (char ch : head) {
    try {
      trickle.write(std::string_view(&ch, 1));
    } catch (const std::exception&) {
      closed = true;
      break;
    }
    if (trickle.closed_by_peer(100ms)) {
      closed = true;
      break;
    }
  }
  auto held = std::chrono::steady_clock::now() - start;
  CHECK(closed);
  CHECK(held >= 900ms);
  CHECK(held < 2500ms);
}

TEST_CASE("with --ping-interval 0 a silent peer is still dropped after --ping-timeout", "[sigserve][hostile]") {
  sigserve_process s({"--ping-interval", "0", "--ping-timeout", "700ms"});
  auto dead = silent_peer(s, "quiet");
  blocking_connection alive;
  connect(alive, s);
  CHECK(alive.welcome().ping_interval == 0ms);
  CHECK(alive.welcome().ping_timeout == 700ms);
  auto joined = alive.join("quiet");
  REQUIRE(joined->peers.size() == 1);
  // No server pings: the live client keeps itself alive with its own.
  auto start = std::chrono::steady_clock::now();
  bool left = false;
  while (!left && std::chrono::steady_clock::now() - start < 4s) {
    alive.send_text(R"({"type":"ping"})");  // five a second, well within the rate limit
    auto until = std::chrono::steady_clock::now() + 200ms;
    while (!left && std::chrono::steady_clock::now() < until) {
      auto m = alive.receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now()));
      if (m.ok() && m->kind == message_kind::peer_left) left = true;
    }
  }
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(left);
  CHECK(waited >= 500ms);
  CHECK(waited < 3s);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="heartbeat_timeout"})") == 1);
}

TEST_CASE("valid JSON of the wrong types gets bad-message and the connection lives on", "[sigserve][hostile]") {
  sigserve_process s;
  blocking_connection c;
  connect(c, s);
  for (auto frame : {R"({"type":"join","room":5})", R"({"type":5})", R"({"type":["join"]})",
                     R"({"type":"offer","to":7})", R"({"type":"ping","rid":{"a":1}})", R"([1,2,3])", R"("join")"}) {
    INFO(frame);
    c.send_text(frame);
    auto m = c.receive(2s);
    REQUIRE(m.ok());
    CHECK(m->kind == message_kind::error);
    CHECK((m->code == "bad-message" || m->code == "bad-json"));
  }
  c.send_text(R"({"type":"ping","rid":1})");
  auto pong = c.receive(2s);
  REQUIRE(pong.ok());
  CHECK(pong->kind == message_kind::pong);
}

TEST_CASE("a fragmented message with a ping between its fragments is answered in order", "[sigserve][hostile]") {
  sigserve_process s;
  raw_socket raw(s.port());
  REQUIRE(raw.upgrade().find(" 101 ") != std::string::npos);
  raw.read_until("\"welcome\"", 2s);
  raw.send_frame(0x1, R"({"type":"pi)", /*fin=*/false);
  raw.send_frame(0x9, "hb");
  raw.send_frame(0x0, R"(ng","rid":"frag"})");
  auto got = raw.read_until("\"rid\":\"frag\"", 2s);
  auto pong_frame = got.find("\x8a\x02hb");
  auto pong_message = got.find(R"({"type":"pong","rid":"frag"})");
  REQUIRE(pong_frame != std::string::npos);
  REQUIRE(pong_message != std::string::npos);
  CHECK(pong_frame < pong_message);
}

TEST_CASE("an upgrade that arrives in pieces, with frames right behind it, is served whole", "[sigserve][hostile]") {
  sigserve_process s;
  raw_socket raw(s.port());
  const std::string request =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  // A masked ping message, sent in the same write as the end of the request.
  std::string ping = R"({"type":"ping","rid":"piece"})";
  std::string frame;
  frame += static_cast<char>(0x81);
  frame += static_cast<char>(0x80 | ping.size());
  const char mask[4] = {0x01, 0x02, 0x03, 0x04};
  frame.append(mask, 4);
  for (std::size_t i = 0; i < ping.size(); ++i) frame += static_cast<char>(ping[i] ^ mask[i % 4]);
  raw.write(request.substr(0, 20));
  std::this_thread::sleep_for(50ms);
  raw.write(request.substr(20, 40));
  std::this_thread::sleep_for(50ms);
  raw.write(request.substr(60) + frame);
  auto got = raw.read_until(R"("rid":"piece")", 3s);
  CHECK(got.find(" 101 ") != std::string::npos);
  CHECK(got.find(R"("type":"welcome")") != std::string::npos);
  CHECK(got.find(R"({"type":"pong","rid":"piece"})") != std::string::npos);
}

TEST_CASE("a client's close frame is answered with its code, then the server closes", "[sigserve][hostile]") {
  sigserve_process s;
  {
    raw_socket raw(s.port());
    REQUIRE(raw.upgrade().find(" 101 ") != std::string::npos);
    raw.send_frame(0x8, std::string("\x0f\xa0" "bye", 5));  // 4000 "bye"
    const std::string echoed("\x88\x02\x0f\xa0", 4);
    CHECK(raw.read_until(echoed, 2s).find(echoed) != std::string::npos);
    CHECK(raw.closed_by_peer(2s));
  }
  {
    raw_socket raw(s.port());
    REQUIRE(raw.upgrade().find(" 101 ") != std::string::npos);
    raw.send_frame(0x8, std::string("\x03\xed", 2));  // 1005 may not be sent: protocol error
    const std::string refused("\x88\x02\x03\xea", 4);
    CHECK(raw.read_until(refused, 2s).find(refused) != std::string::npos);
  }
  CHECK(eventually([&] { return metric(metrics_text(s.port()), "sigserve_connections_open") == 0; }, 3s));
}

TEST_CASE("SIGTERM: /readyz fails at once, serving goes on for --drain-delay, then 1001", "[sigserve][hostile]") {
  sigserve_process s({"--drain-delay", "1s"});
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  a.join("drain");
  b.join("drain");
  a.receive(2s);  // peer-joined
  ::kill(s.pid(), SIGTERM);
  CHECK(eventually([&] { return sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/readyz")) == 503; },
                   300ms));
  CHECK(sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/healthz")) == 200);
  // Still serving: a newcomer connects and the room still relays.
  blocking_connection late;
  connect(late, s);
  a.send_text(R"({"type":"message","text":"still here"})");
  auto relayed = b.receive(2s);
  REQUIRE(relayed.ok());
  CHECK(relayed->kind == message_kind::relay);
  auto start = std::chrono::steady_clock::now();
  for (;;) {
    auto m = a.receive(3s);
    if (!m.ok()) break;
  }
  CHECK(a.close_code() == 1001);
  CHECK(std::chrono::steady_clock::now() - start >= 500ms);
  auto status = s.stop(SIGTERM, 3s);
  REQUIRE(status);
  CHECK(*status == 0);
}

TEST_CASE("static files: a missing script is 404, a file above --static-max-bytes is 413", "[sigserve][hostile]") {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("sigserve-static-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "index.html") << "<p id=status>custom</p>";
  std::ofstream(dir / "big.bin") << std::string(2 << 20, 'b');
  sigserve_process s({"--static", dir.string(), "--static-max-bytes", "1048576"});
  using sigkit::test::http_request;
  using sigkit::test::http_status;
  CHECK(http_status(http_request(s.port(), "GET", "/app.js")) == 404);
  CHECK(http_status(http_request(s.port(), "GET", "/style.css")) == 404);
  CHECK(http_request(s.port(), "GET", "/my.room").find("custom") != std::string::npos);
  CHECK(http_status(http_request(s.port(), "GET", "/big.bin")) == 413);
  CHECK(http_status(http_request(s.port(), "GET", "/index.html")) == 200);
  fs::remove_all(dir);
}

TEST_CASE("limits by client address refuse with 429 and Retry-After, and free their place on close", "[sigserve][hostile]") {
  sigserve_process s({"--max-connections-per-ip", "2"});
  blocking_connection a, b;
  connect(a, s);
  connect(b, s);
  auto refused = raw_socket(s.port()).upgrade();
  CHECK(sigkit::test::http_status(refused) == 429);
  CHECK(refused.find("\r\nRetry-After: ") != std::string::npos);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_upgrades_refused_total{reason="address_limit"})") == 1);
  a.close();
  CHECK(eventually([&] { return upgrade_status(s) == 101; }, 2s));

  sigserve_process fast({"--connection-rate-per-ip", "1", "--connection-burst-per-ip", "2"});
  CHECK(upgrade_status(fast) == 101);
  CHECK(upgrade_status(fast) == 101);
  CHECK(upgrade_status(fast) == 429);  // a third at once is too fast
  CHECK(metric(metrics_text(fast.port()), R"(sigserve_upgrades_refused_total{reason="address_rate"})") == 1);
}

TEST_CASE("X-Forwarded-For names the client only behind a trusted proxy", "[sigserve][hostile]") {
  auto upgrade_as = [](const sigserve_process& s, const char* client) {
    return sigkit::test::http_status(raw_socket(s.port()).upgrade(std::string("X-Forwarded-For: ") + client + "\r\n"));
  };
  {
    sigserve_process behind({"--trust-proxy", "127.0.0.0/8", "--max-connections-per-ip", "1"});
    raw_socket first(behind.port()), second(behind.port());
    CHECK(sigkit::test::http_status(first.upgrade("X-Forwarded-For: 198.51.100.1\r\n")) == 101);
    CHECK(sigkit::test::http_status(second.upgrade("X-Forwarded-For: 1.2.3.4, 198.51.100.2\r\n")) == 101);
    CHECK(upgrade_as(behind, "198.51.100.1") == 429);  // that client holds its one place
    // The logs name the client, not the proxy.
    CHECK(eventually([&] { return behind.log().find("remote=198.51.100.2:") != std::string::npos; }, 2s));
  }
  {
    sigserve_process direct({"--max-connections-per-ip", "1"});
    raw_socket first(direct.port());
    CHECK(sigkit::test::http_status(first.upgrade("X-Forwarded-For: 198.51.100.1\r\n")) == 101);
    CHECK(upgrade_as(direct, "198.51.100.9") == 429);  // anyone can write the header: it counts for nothing
  }
  auto bad = sigkit::test::run_command({sigkit::test::sigserve_path(), "--trust-proxy", "10.0.0.0/33"});
  CHECK(bad.status == 2);
}

TEST_CASE("a client that keeps sending past the rate limit is closed with 1008", "[sigserve][hostile]") {
  sigserve_process s({"--rate-limit", "10", "--rate-burst", "10"});
  blocking_connection flooder, other;
  connect(flooder, s);
  connect(other, s);
  for (int i = 0; i < 400; ++i)
    if (flooder.send_text(R"({"type":"ping"})")) break;
  for (;;) {
    auto m = flooder.receive(3s);
    if (!m.ok()) break;
  }
  CHECK(flooder.close_code() == 1008);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="rate_limited"})") == 1);
  other.send_text(R"({"type":"ping"})");  // the others are untouched
  expect(other, message_kind::pong);
}

TEST_CASE("joins are limited per connection, apart from other messages", "[sigserve][hostile]") {
  sigserve_process s({"--join-rate", "1", "--join-burst", "3", "--rate-limit", "0"});
  blocking_connection c;
  connect(c, s);
  int joined = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    auto r = c.join("churn");
    REQUIRE(r.ok());
    if (r->kind == message_kind::joined) {
      ++joined;
      c.send_text(R"({"type":"leave"})");
      expect(c, message_kind::left);
    } else if (r->code == "rate-limited") {
      ++limited;
    }
  }
  CHECK(joined == 3);
  CHECK(limited == 5);
  c.send_text(R"({"type":"ping"})");  // other messages are not held back
  expect(c, message_kind::pong);
}
