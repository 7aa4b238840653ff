// Several sigserve processes sharing rooms through a real redis-server, as an
// operator runs them behind a load balancer: each guarantee of the protocol
// must hold across instances, and a crash of an instance or of Redis must
// leave no ghost in a room.
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "support/expectations.hpp"
#include "support/raw_socket.hpp"
#include "support/redis_process.hpp"
#include "support/server_figures.hpp"
#include "support/sigserve_process.hpp"
#include "support/test_certificate.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::test::connect;
using sigkit::test::expect;
using sigkit::test::expect_error;
using sigkit::test::expect_silence;
using sigkit::test::redis_process;
using sigkit::test::sigserve_process;

namespace {

std::vector<std::string> cluster_args(const redis_process& redis, std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--redis", redis.url()};
  if (std::find(more.begin(), more.end(), "--log-level") == more.end()) more.insert(more.end(), {"--log-level", "debug"});
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

sigserve_process instance(const redis_process& redis, std::vector<std::string> more = {}) {
  return sigserve_process(cluster_args(redis, std::move(more)));
}

// /readyz says 200 once the instance holds its lease.
bool ready(const sigserve_process& s) {
  return sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/readyz")) == 200;
}

void wait_ready(const sigserve_process& s) {
  for (int i = 0; i < 100 && !ready(s); ++i) std::this_thread::sleep_for(50ms);
  INFO(s.log());
  REQUIRE(ready(s));
}

// Redis, two instances, and on each a member of one room: where most of
// these tests begin.
struct two_instances {
  redis_process redis;
  sigserve_process a_server{cluster_args(redis)};
  sigserve_process b_server{cluster_args(redis)};
  blocking_connection a, b;

  explicit two_instances(const std::string& room) {
    wait_ready(a_server);
    wait_ready(b_server);
    connect(a, a_server);
    connect(b, b_server);
    REQUIRE(a.join(room).ok());
    REQUIRE(b.join(room).ok());
    expect(a, message_kind::peer_joined);
  }
};

// A newcomer on an instance of its own joins `room` and finds only `member`
// there: the room has room again, and no ghost is in it.
void expect_room_holds_only(const redis_process& redis, const std::string& room, const blocking_connection& member) {
  auto server = instance(redis);
  wait_ready(server);
  blocking_connection newcomer;
  connect(newcomer, server);
  auto joined = newcomer.join(room);
  REQUIRE(joined.ok());
  REQUIRE(joined->kind == message_kind::joined);
  CHECK(joined->peers == std::vector<std::string>{member.peer()});
}

}  // namespace

TEST_CASE("two peers on two instances join one room, negotiate and part", "[cluster]") {
  redis_process redis;
  auto a_server = instance(redis);
  auto b_server = instance(redis);
  wait_ready(a_server);
  wait_ready(b_server);
  blocking_connection a, b;
  connect(a, a_server);
  connect(b, b_server);
  {
    sigkit::test::raw_socket raw(a_server.port());
    auto text = raw.upgrade();
    if (text.find("cluster") == std::string::npos) text += raw.read_until("cluster", 2s);
    CHECK(text.find(R"("features":["cluster"])") != std::string::npos);
  }

  auto a_joined = a.join("call");
  REQUIRE(a_joined.ok());
  CHECK(a_joined->peers.empty());
  auto b_joined = b.join("call");
  REQUIRE(b_joined.ok());
  REQUIRE(b_joined->kind == message_kind::joined);
  CHECK(b_joined->peers == std::vector<std::string>{a.peer()});
  CHECK(expect(a, message_kind::peer_joined).peer == b.peer());

  b.send(json{{"type", "offer"}, {"to", a.peer()}, {"sdp", "v=0\r\n"}});
  auto offer = expect(a, message_kind::relay);
  CHECK(offer.from == b.peer());
  CHECK(offer.body["sdp"] == "v=0\r\n");
  a.send(json{{"type", "answer"}, {"to", b.peer()}, {"sdp", "answer"}});
  CHECK(expect(b, message_kind::relay).type == "answer");
  // In order per sender, across the broker.
  for (int i = 0; i < 50; ++i) a.send(json{{"type", "candidate"}, {"to", b.peer()}, {"candidate", {{"n", i}}}});
  for (int i = 0; i < 50; ++i) CHECK(expect(b, message_kind::relay).body["candidate"]["n"] == i);

  b.send(json{{"type", "leave"}});
  expect(b, message_kind::left);
  CHECK(expect(a, message_kind::peer_left).peer == b.peer());
  // ... and a closed connection too.
  b.join("call");
  CHECK(expect(a, message_kind::peer_joined).peer == b.peer());
  b.close();
  CHECK(expect(a, message_kind::peer_left).peer == b.peer());
}

TEST_CASE("capacity is global: 20 clients on 3 instances race for a room of 2", "[cluster]") {
  redis_process redis;
  std::vector<std::unique_ptr<sigserve_process>> servers;
  for (int i = 0; i < 3; ++i)
    servers.push_back(std::make_unique<sigserve_process>(cluster_args(redis, {"--room-capacity", "2"})));
  for (auto& s : servers) wait_ready(*s);
  std::vector<std::unique_ptr<blocking_connection>> clients;
  for (int i = 0; i < 20; ++i) {
    clients.push_back(std::make_unique<blocking_connection>());
    connect(*clients.back(), *servers[i % 3]);
  }
  for (auto& c : clients) c->send(json{{"type", "join"}, {"room", "race"}});
  int joined = 0, full = 0;
  for (auto& c : clients) {
    auto m = c->receive(5s);
    REQUIRE(m.ok());
    if (m->kind == message_kind::joined) ++joined;
    else if (m->kind == message_kind::error && m->code == "room-full") ++full;
    else FAIL("unexpected " << m->body.dump());
  }
  CHECK(joined == 2);
  CHECK(full == 18);
}

TEST_CASE("a killed instance's members leave the others' rooms within the lease", "[cluster]") {
  two_instances t("room");
  auto& [redis, a_server, b_server, a, b] = t;
  auto killed = std::chrono::steady_clock::now();
  b_server.stop(SIGKILL, 2s);
  // Lease 5 s, sweeps every second.
  auto left = expect(a, message_kind::peer_left, 9s);
  CHECK(left.peer == b.peer());
  CHECK(std::chrono::steady_clock::now() - killed < 7s);
  expect_room_holds_only(redis, "room", a);
}

TEST_CASE("while Redis is down joins get unavailable and readyz says 503; afterwards rooms come back", "[cluster]") {
  two_instances t("shared");
  auto& [redis, a_server, b_server, a, b] = t;
  blocking_connection lone;
  connect(lone, a_server);

  redis.stop(SIGKILL);
  for (int i = 0; i < 60 && ready(a_server); ++i) std::this_thread::sleep_for(50ms);
  CHECK_FALSE(ready(a_server));
  lone.send(json{{"type", "join"}, {"room", "new"}});
  expect_error(lone, "unavailable");
  // A relay that must cross instances cannot be delivered: the sender is told.
  a.send(json{{"type", "offer"}, {"to", b.peer()}, {"sdp", "x"}});
  expect_error(a, "unavailable");

  // Redis comes back empty: each instance puts its members back; joins wait
  // one lease, then work, and the room still holds both members.
  redis.restart();
  for (int i = 0; i < 200 && !ready(a_server); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(ready(a_server));
  a.send(json{{"type", "offer"}, {"to", b.peer()}, {"sdp", "after"}});
  CHECK(expect(b, message_kind::relay).body["sdp"] == "after");
  // The client that was told unavailable tries again, and gets in.
  auto retried = lone.join("new");
  REQUIRE(retried.ok());
  CHECK(retried->kind == message_kind::joined);
  blocking_connection third;
  connect(third, b_server);
  auto refused = third.join("shared");
  REQUIRE(refused.ok());
  CHECK(refused->code == "room-full");
}

// A departure while Redis is down is told to nobody (pub/sub keeps nothing):
// once Redis is back, the other instances read their rooms again and tell
// their members what they missed.
TEST_CASE("a member who leaves while Redis is down leaves the other instances' rooms when it returns", "[cluster]") {
  redis_process redis;
  auto a_server = instance(redis, {"--room-capacity", "3"});
  auto b_server = instance(redis, {"--room-capacity", "3"});
  wait_ready(a_server);
  wait_ready(b_server);
  blocking_connection a, b, stays;
  connect(a, a_server);
  connect(b, b_server);
  connect(stays, b_server);
  REQUIRE(a.join("gone").ok());
  REQUIRE(b.join("gone").ok());
  auto joined = stays.join("gone");
  REQUIRE(joined.ok());
  REQUIRE(joined->kind == message_kind::joined);
  expect(a, message_kind::peer_joined);
  expect(a, message_kind::peer_joined);
  expect(b, message_kind::peer_joined);

  redis.stop(SIGKILL);
  for (int i = 0; i < 60 && ready(a_server); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE_FALSE(ready(b_server));
  const auto leaver = b.peer();
  b.close();
  CHECK(expect(stays, message_kind::peer_left).peer == leaver);  // same instance: told at once
  redis.restart();
  auto back = std::chrono::steady_clock::now();

  // One lease for the instances to put their members back, then the rooms
  // are read again.
  CHECK(expect(a, message_kind::peer_left, 10s).peer == leaver);
  CHECK(std::chrono::steady_clock::now() - back < 9s);
  // Nobody else flapped: the one who stayed is still in a's room.
  a.send(json{{"type", "offer"}, {"to", stays.peer()}, {"sdp", "still here"}});
  CHECK(expect(stays, message_kind::relay).body["sdp"] == "still here");
  a.send(json{{"type", "offer"}, {"to", leaver}, {"sdp", "x"}});
  expect_error(a, "unknown-peer");
  expect_silence(stays, 300ms);
  CHECK(sigkit::test::metric(sigkit::test::metrics_text(a_server.port()), "sigserve_cluster_roster_repairs_total") == 1);
}

// Until the rooms are read again (a lease after Redis is back), a relay may
// go to a member who left during the outage: its instance answers for its
// own members, so the sender hears unknown-peer and the room is mended then.
TEST_CASE("a relay to a member who left while Redis was down is answered unknown-peer and mends the room", "[cluster]") {
  two_instances t("stale");
  auto& [redis, a_server, b_server, a, b] = t;
  redis.stop(SIGKILL);
  for (int i = 0; i < 60 && ready(a_server); ++i) std::this_thread::sleep_for(50ms);
  const auto leaver = b.peer();
  b.close();
  redis.restart();
  auto back = std::chrono::steady_clock::now();

  // Unavailable while the instances reconnect; then the relay crosses and
  // comes back.
  bool left = false, refused = false;
  for (int n = 0; n < 40 && !refused; ++n) {
    a.send(json{{"type", "offer"}, {"to", leaver}, {"sdp", "x"}, {"rid", n}});
    for (auto m = a.receive(150ms); m.ok(); m = a.receive(150ms)) {
      if (m->kind == message_kind::peer_left && m->peer == leaver) left = true;
      if (m->kind == message_kind::error && m->code == "unknown-peer") {
        CHECK(m->body["rid"] == n);
        refused = true;
        break;
      }
    }
  }
  CHECK(left);
  REQUIRE(refused);
  CHECK(std::chrono::steady_clock::now() - back < 5s);  // before the rooms are read again
  CHECK(sigkit::test::metric(sigkit::test::metrics_text(a_server.port()), "sigserve_cluster_relays_bounced_total") >= 1);
}

TEST_CASE("an instance killed while Redis is down leaves no member behind once Redis returns", "[cluster]") {
  two_instances t("orphans");
  auto& [redis, a_server, b_server, a, b] = t;
  redis.stop(SIGKILL);
  for (int i = 0; i < 60 && ready(a_server); ++i) std::this_thread::sleep_for(50ms);
  b_server.stop(SIGKILL, 2s);  // with Redis away, no lease of it is left to expire
  redis.restart();
  CHECK(expect(a, message_kind::peer_left, 10s).peer == b.peer());
  wait_ready(a_server);
  expect_room_holds_only(redis, "orphans", a);
  expect(a, message_kind::peer_joined);
}

// A failover behind one address: the server sigserve talks to is demoted to
// a replica, and later the address leads to a primary again.
TEST_CASE("a Redis demoted to a replica takes the instance out of service until a primary answers", "[cluster]") {
  redis_process redis;
  auto server = instance(redis);
  wait_ready(server);
  blocking_connection a;
  connect(a, server);
  REQUIRE(a.join("before").ok());

  redis.cli({"REPLICAOF", "127.0.0.1", "1"});
  for (int i = 0; i < 60 && ready(server); ++i) std::this_thread::sleep_for(50ms);
  CHECK_FALSE(ready(server));
  blocking_connection b;
  connect(b, server);
  b.send(json{{"type", "join"}, {"room", "during"}});
  expect_error(b, "unavailable");

  redis.cli({"REPLICAOF", "NO", "ONE"});
  for (int i = 0; i < 100 && !ready(server); ++i) std::this_thread::sleep_for(50ms);
  REQUIRE(ready(server));
  auto joined = b.join("during");
  REQUIRE(joined.ok());
  CHECK(joined->kind == message_kind::joined);
  CHECK(server.log().find("broker-lost error=\"Redis answered READONLY") != std::string::npos);
}

TEST_CASE("peer-left crosses instances when a member's heartbeat times out", "[cluster]") {
  redis_process redis;
  auto a_server = instance(redis);
  auto b_server = instance(redis, {"--ping-interval", "200ms", "--ping-timeout", "1s"});
  wait_ready(a_server);
  wait_ready(b_server);
  blocking_connection a;
  connect(a, a_server);
  REQUIRE(a.join("quiet").ok());
  // A client that joins and then never reads or answers a ping again.
  sigkit::test::raw_socket silent(b_server.port());
  silent.upgrade();
  silent.send_frame(0x1, R"({"type":"join","room":"quiet"})");
  auto joined = expect(a, message_kind::peer_joined);
  CHECK(expect(a, message_kind::peer_left, 5s).peer == joined.peer);
}

TEST_CASE("an instance that lost its lease closes its members with 1012 and serves again", "[cluster]") {
  two_instances t("pause");
  auto& [redis, a_server, b_server, a, b] = t;
  // Frozen past its lease (a long GC pause, a VM migration): the others sweep
  // its member...
  kill(b_server.pid(), SIGSTOP);
  CHECK(expect(a, message_kind::peer_left, 9s).peer == b.peer());
  kill(b_server.pid(), SIGCONT);
  // ... and when it wakes it does not claim it back: the client is told to
  // reconnect, and can.
  auto m = b.receive(5s);
  CHECK_FALSE(m.ok());
  CHECK(b.close_code() == 1012);
  wait_ready(b_server);
  blocking_connection again;
  connect(again, b_server);
  auto rejoined = again.join("pause");
  REQUIRE(rejoined.ok());
  REQUIRE(rejoined->kind == message_kind::joined);
  CHECK(rejoined->peers == std::vector<std::string>{a.peer()});
  CHECK(sigkit::test::metric(sigkit::test::metrics_text(b_server.port()), "sigserve_broker_leases_lost_total") == 1);
}

TEST_CASE("a killed subscription and a flushed script cache are recovered", "[cluster]") {
  two_instances t("r");
  auto& [redis, a_server, b_server, a, b] = t;

  redis.cli({"CLIENT", "KILL", "TYPE", "pubsub"});
  redis.cli({"SCRIPT", "FLUSH"});
  // Relays flow again once the inboxes are subscribed again.
  bool through = false;
  for (int i = 0; i < 40 && !through; ++i) {
    a.send(json{{"type", "offer"}, {"to", b.peer()}, {"sdp", std::to_string(i)}});
    auto m = b.receive(100ms);
    through = m.ok() && m->kind == message_kind::relay;
  }
  CHECK(through);
  // Joins run the Lua scripts again.
  blocking_connection c;
  connect(c, a_server);
  auto full = c.join("r");
  REQUIRE(full.ok());
  CHECK(full->code == "room-full");
  blocking_connection d;
  connect(d, b_server);
  auto fresh = d.join("another");
  REQUIRE(fresh.ok());
  CHECK(fresh->kind == message_kind::joined);
}

TEST_CASE("sigbench across two instances: every room split over both, nothing lost", "[cluster]") {
  // Under load the replies to an instance's own joins and its inbox race:
  // a relay to a member whose join reply is not in yet once went missing.
  redis_process redis;
  auto a_server = instance(redis, {"--log-level", "info"});
  auto b_server = instance(redis, {"--log-level", "info"});
  wait_ready(a_server);
  wait_ready(b_server);
  auto r = sigkit::test::run_command({SIGKIT_SIGBENCH_PATH, "--quiet", "--url", a_server.ws_url(), "--url",
                                      b_server.ws_url(), "--peers", "2000", "--rate", "0", "--concurrency", "100",
                                      "--late-bound", "5s", "--threshold", "relay_cross.count==10000"});
  INFO(r.out << r.err);
  CHECK(r.status == 0);
  CHECK(r.out.find("relay_cross") != std::string::npos);
  CHECK(sigkit::test::metric(sigkit::test::metrics_text(a_server.port()), "sigserve_cluster_sequence_gaps_total") == 0);
}

TEST_CASE("room history across instances, and after the room empties", "[cluster][history]") {
  redis_process redis;
  auto a_server = instance(redis, {"--room-history", "3", "--room-capacity", "3"});
  auto b_server = instance(redis, {"--room-history", "3", "--room-capacity", "3"});
  wait_ready(a_server);
  wait_ready(b_server);
  blocking_connection a, b;
  connect(a, a_server);
  connect(b, b_server);
  REQUIRE(a.join("chat").ok());
  REQUIRE(b.join("chat").ok());
  expect(a, message_kind::peer_joined);
  for (int i = 1; i <= 4; ++i) {
    (i % 2 ? a : b).send(json{{"type", "message"}, {"text", std::to_string(i)}});
    expect(i % 2 ? b : a, message_kind::relay);
  }
  auto texts = [](const json& history) {
    std::vector<std::string> out;
    for (const auto& entry : history) out.push_back(entry["text"]);
    return out;
  };
  // A joiner on either instance gets what both said, oldest first.
  blocking_connection c;
  connect(c, b_server);
  auto joined = c.join("chat");
  REQUIRE(joined.ok());
  CHECK(texts(joined->body["history"]) == std::vector<std::string>{"2", "3", "4"});
  // Everyone leaves; the history outlives the room (--room-history-ttl).
  for (auto* member : {&a, &b, &c}) member->send(json{{"type", "leave"}});
  // c hears the others go (peer-left) before its own left, or after.
  for (auto m = c.receive(3s); m.ok() && m->kind != message_kind::left; m = c.receive(3s)) {
    CHECK(m->kind == message_kind::peer_left);
  }
  blocking_connection d;
  connect(d, a_server);
  for (int i = 0; i < 20; ++i) {  // the leaves reach Redis a moment later
    auto back = d.join("chat");
    REQUIRE(back.ok());
    if (back->body["peers"].empty()) {
      CHECK(texts(back->body["history"]) == std::vector<std::string>{"2", "3", "4"});
      break;
    }
    d.send(json{{"type", "leave"}});
    expect(d, message_kind::left);
    std::this_thread::sleep_for(50ms);
  }
}

TEST_CASE("rediss: two instances share a room over TLS to Redis, and its flags are checked at start", "[cluster][tls]") {
  sigkit::test::test_certificate cert;
  const auto tls_port = sigkit::test::free_loopback_port();
  redis_process redis(sigkit::test::tls_port_arguments(tls_port, cert.cert_path(), cert.key_path()));
  const std::string url = "rediss://127.0.0.1:" + std::to_string(tls_port);
  std::vector<std::string> args{"--redis", url, "--redis-ca-file", cert.cert_path()};
  sigserve_process a_server(args), b_server(args);
  wait_ready(a_server);
  wait_ready(b_server);
  blocking_connection a, b;
  connect(a, a_server);
  connect(b, b_server);
  REQUIRE(a.join("secure").ok());
  REQUIRE(b.join("secure").ok());
  CHECK(expect(a, message_kind::peer_joined).peer == b.peer());
  a.send(json{{"type", "offer"}, {"to", b.peer()}, {"sdp", "through tls"}});
  CHECK(expect(b, message_kind::relay).body["sdp"] == "through tls");
  b.close();
  CHECK(expect(a, message_kind::peer_left).peer == b.peer());

  using sigkit::test::run_command;
  auto bin = sigkit::test::sigserve_path();
  auto alone = run_command({bin, "--redis", url, "--redis-cert", cert.cert_path()});
  CHECK(alone.status == 2);
  CHECK(alone.err.find("--redis-key") != std::string::npos);
  // A CA file that holds no certificate: the instance cannot start.
  auto not_a_ca = run_command({bin, "--port", "0", "--redis", url, "--redis-ca-file", cert.key_path()});
  CHECK(not_a_ca.status == 1);
  CHECK(not_a_ca.err.rfind("sigserve: --redis: TLS CA file", 0) == 0);
  // Without the CA, Redis' self-signed certificate is not trusted: never ready.
  sigserve_process untrusting({"--redis", url});
  for (int i = 0; i < 40 && untrusting.log().find("broker-unreachable") == std::string::npos; ++i)
    std::this_thread::sleep_for(50ms);
  CHECK_FALSE(ready(untrusting));
  INFO(untrusting.log());
  CHECK(untrusting.log().find("certificate verify failed") != std::string::npos);
}
