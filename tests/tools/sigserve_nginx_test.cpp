// Two sigserve instances sharing rooms through Redis, behind a real nginx
// running the shipped deploy/nginx/sigserve.conf: what a user of that
// deployment sees. Connections spread over both instances, peers on
// different instances negotiate, a draining instance's clients come back
// through nginx to the other and find their rooms, the page and the
// client's address get through, and sigbench passes through the balancer.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/expectations.hpp"
#include "support/nginx_process.hpp"
#include "support/raw_socket.hpp"
#include "support/redis_process.hpp"
#include "support/sigserve_process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::test::expect;
using sigkit::test::http_request;
using sigkit::test::http_status;
using sigkit::test::nginx_process;
using sigkit::test::redis_process;
using sigkit::test::sigserve_process;

namespace {

std::vector<std::string> instance_args(const redis_process& redis, std::vector<std::string> more = {}) {
  // As deploy/nginx/sigserve.conf asks: nginx (on loopback) is the proxy
  // whose X-Forwarded-For names the client. --drain-delay 0: no load
  // balancer here polls /readyz, so the drain closes at once.
  std::vector<std::string> args{"--redis", redis.url(), "--trust-proxy", "127.0.0.1/32", "--drain-delay", "0"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

bool ready(const sigserve_process& s) { return http_status(http_request(s.port(), "GET", "/readyz")) == 200; }

void wait_ready(const sigserve_process& s) {
  for (int i = 0; i < 100 && !ready(s); ++i) std::this_thread::sleep_for(50ms);
  INFO(s.log());
  REQUIRE(ready(s));
}

// Redis, two instances and nginx in front of them, started in that order
// and stopped in the reverse one; `a_args` are more flags for instance a.
struct balanced_cluster {
  explicit balanced_cluster(std::vector<std::string> a_args = {})
      : a(std::make_unique<sigserve_process>(instance_args(redis, std::move(a_args)))),
        b(std::make_unique<sigserve_process>(instance_args(redis))),
        nginx({a->port(), b->port()}) {
    wait_ready(*a);
    wait_ready(*b);
  }

  redis_process redis;
  std::unique_ptr<sigserve_process> a;
  std::unique_ptr<sigserve_process> b;
  nginx_process nginx;

  // nginx's error log alone, for the HTTP checks, where the access log and
  // the instances' connect lines are noise.
  std::string error_logs() const { return "--- nginx error log:\n" + nginx.error_log(); }

  std::string logs() const {
    return "--- nginx error log:\n" + nginx.error_log() + "--- nginx access log:\n" + nginx.access_log() +
           "--- instance a:\n" + a->log() + "--- instance b:\n" + b->log();
  }
};

// A sample of the instance's /metrics, read from the instance itself (not
// through nginx, which would ask whichever instance it picks).
std::optional<double> metric(const sigserve_process& s, const std::string& name) {
  std::istringstream lines(http_request(s.port(), "GET", "/metrics"));
  for (std::string line; std::getline(lines, line);)
    if (line.size() > name.size() && line.compare(0, name.size(), name) == 0 && line[name.size()] == ' ')
      return std::stod(line.substr(name.size() + 1));
  return std::nullopt;
}

void connect_through(blocking_connection& c, const balanced_cluster& k, sigkit::client::connect_options o = {}) {
  auto ec = c.connect(k.nginx.ws_url(), std::move(o));
  INFO(ec.message() << "\n" << k.logs());
  REQUIRE_FALSE(ec);
}

// The `connect` line sigserve logged for `peer`, and which instance logged
// it ('a' or 'b'); logs are written by a thread of their own, so the line
// may take a moment. {'?', ""} if neither did.
std::pair<char, std::string> connect_line(const balanced_cluster& k, const std::string& peer) {
  const std::string key = "connect peer=" + peer + " ";
  for (int i = 0; i < 100; ++i) {
    for (auto [name, instance] : {std::pair{'a', k.a.get()}, std::pair{'b', k.b.get()}}) {
      if (!instance) continue;
      std::istringstream lines(instance->log());
      for (std::string line; std::getline(lines, line);)
        if (line.find(key) != std::string::npos) return {name, line};
    }
    std::this_thread::sleep_for(20ms);
  }
  return {'?', {}};
}

// Which instance nginx put the client on.
char instance_of(const balanced_cluster& k, const blocking_connection& c) { return connect_line(k, c.peer()).first; }

std::string room_of(std::size_t pair) { return "pair-" + std::to_string(pair); }

// `second` offers, `first` answers: what two browsers do to start a call.
void negotiate(blocking_connection& first, blocking_connection& second) {
  second.send(json{{"type", "offer"}, {"to", first.peer()}, {"sdp", "offer from " + second.peer()}});
  auto offer = expect(first, message_kind::relay);
  CHECK(offer.type == "offer");
  CHECK(offer.from == second.peer());
  first.send(json{{"type", "answer"}, {"to", second.peer()}, {"sdp", "answer from " + first.peer()}});
  auto answer = expect(second, message_kind::relay);
  CHECK(answer.type == "answer");
  CHECK(answer.from == first.peer());
}

// Joins `c` to `room`, where `already` (if any) is waiting, and checks both
// sides of it.
void join_pair(blocking_connection& c, const std::string& room, blocking_connection* already) {
  auto joined = c.join(room);
  REQUIRE(joined.ok());
  INFO(joined->body.dump());
  REQUIRE(joined->kind == message_kind::joined);
  if (already == nullptr) {
    CHECK(joined->peers.empty());
    return;
  }
  CHECK(joined->peers == std::vector<std::string>{already->peer()});
  CHECK(expect(*already, message_kind::peer_joined).peer == c.peer());
}

constexpr std::size_t client_count = 20;

// 20 clients through nginx, in pairs (2i, 2i+1) sharing room pair-i, each
// pair negotiated; returns where each landed.
std::vector<char> connect_pairs(const balanced_cluster& k, std::vector<std::unique_ptr<blocking_connection>>& clients) {
  for (std::size_t i = 0; i < client_count; ++i) {
    clients.push_back(std::make_unique<blocking_connection>());
    connect_through(*clients.back(), k);
  }
  std::vector<char> placed;
  for (auto& c : clients) placed.push_back(instance_of(k, *c));
  for (std::size_t pair = 0; pair < client_count / 2; ++pair) {
    auto& first = *clients[2 * pair];
    auto& second = *clients[2 * pair + 1];
    join_pair(first, room_of(pair), nullptr);
    join_pair(second, room_of(pair), &first);
    negotiate(first, second);
  }
  return placed;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("sigserve-nginx-test-" + std::to_string(getpid()) + "-" + name))
      .string();
}

}  // namespace

TEST_CASE("the shipped nginx config is what the test runs", "[nginx]") {
  // The rewriting the other tests rely on finds its lines in the shipped
  // file, and only those change.
  const auto shipped = sigkit::test::shipped_nginx_site();
  const auto adapted = sigkit::test::adapt_nginx_site(shipped, 20001, {30001, 30002, 30003});
  CHECK(adapted.find("    listen 127.0.0.1:20001;\n") != std::string::npos);
  CHECK(adapted.find("\n    listen 80;") == std::string::npos);
  CHECK(adapted.find("\n    listen [::]:80;") == std::string::npos);
  CHECK(adapted.find("#     listen 443 ssl;") != std::string::npos);  // the commented TLS block stays as it is
  for (auto port : {"30001", "30002", "30003"})
    CHECK(adapted.find(std::string("    server 127.0.0.1:") + port + " max_fails=1 fail_timeout=10s;\n") !=
          std::string::npos);
  CHECK(adapted.find("127.0.0.1:8081") == std::string::npos);
  CHECK(adapted.find("127.0.0.1:8082") == std::string::npos);
  CHECK(adapted.find("proxy_read_timeout 75s;") != std::string::npos);
  CHECK_THROWS(sigkit::test::adapt_nginx_site("server { listen 80; }\n", 1, {2}));
}

TEST_CASE("20 clients through nginx land on both instances and pairs across them negotiate", "[nginx]") {
  balanced_cluster k;
  std::vector<std::unique_ptr<blocking_connection>> clients;
  const auto placed = connect_pairs(k, clients);
  INFO(k.logs());

  // least_conn with connections that stay open: each new one goes to the
  // instance with fewer, so 20 sequential connections split 10 and 10.
  CHECK(metric(*k.a, "sigserve_connections_open").value_or(-1) == 10);
  CHECK(metric(*k.b, "sigserve_connections_open").value_or(-1) == 10);
  CHECK(std::count(placed.begin(), placed.end(), 'a') == 10);
  CHECK(std::count(placed.begin(), placed.end(), 'b') == 10);
  std::size_t across = 0;
  for (std::size_t pair = 0; pair < client_count / 2; ++pair) across += placed[2 * pair] != placed[2 * pair + 1];
  INFO(across << " of " << client_count / 2 << " pairs span the two instances");
  CHECK(across > 0);  // or the relays above never crossed Redis
  CHECK(metric(*k.a, "sigserve_joins_total").value_or(0) + metric(*k.b, "sigserve_joins_total").value_or(0) == 20);
}

TEST_CASE("after clients leave one instance new connections go to it first", "[nginx]") {
  // least_conn: what counts is the connections open now. Round robin would
  // split the newcomers evenly and leave the instances at 3 and 7.
  balanced_cluster k;
  std::vector<std::unique_ptr<blocking_connection>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<blocking_connection>());
    connect_through(*clients.back(), k);
  }
  REQUIRE(metric(*k.a, "sigserve_connections_open").value_or(-1) == 5);
  int closed = 0;
  for (auto& c : clients)
    if (closed < 4 && instance_of(k, *c) == 'a') {
      c->close();
      ++closed;
    }
  REQUIRE(closed == 4);
  for (int i = 0; i < 100 && metric(*k.a, "sigserve_connections_open").value_or(-1) != 1; ++i)
    std::this_thread::sleep_for(20ms);
  REQUIRE(metric(*k.a, "sigserve_connections_open").value_or(-1) == 1);
  // nginx counts a connection until its tunnel is torn down, a moment after
  // sigserve closed its end.
  std::this_thread::sleep_for(200ms);
  std::vector<char> placed;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<blocking_connection>());
    connect_through(*clients.back(), k);
    placed.push_back(instance_of(k, *clients.back()));
  }
  INFO(k.logs());
  CHECK(placed == std::vector<char>{'a', 'a', 'a', 'a'});
  CHECK(metric(*k.a, "sigserve_connections_open").value_or(-1) == 5);
  CHECK(metric(*k.b, "sigserve_connections_open").value_or(-1) == 5);
}

TEST_CASE("an instance at its connection limit hands upgrades to the other", "[nginx]") {
  // sigserve answers 503 beyond --max-connections; nginx retries the upgrade
  // on the next instance (proxy_next_upstream http_503), so no client sees it.
  balanced_cluster k({"--max-connections", "2"});
  std::vector<std::unique_ptr<blocking_connection>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<blocking_connection>());
    connect_through(*clients.back(), k);
  }
  INFO(k.error_logs());
  CHECK(metric(*k.a, "sigserve_connections_open").value_or(-1) == 2);
  CHECK(metric(*k.b, "sigserve_connections_open").value_or(-1) == 8);
  CHECK(metric(*k.a, "sigserve_upgrades_refused_total{reason=\"capacity\"}").value_or(0) >= 1);
  // nginx logs a tunnel once it is over: the retried upgrades show both answers.
  for (auto& c : clients) c->close();
  for (int i = 0; i < 100 && k.nginx.access_log().find("upstream_status=503, 101") == std::string::npos; ++i)
    std::this_thread::sleep_for(20ms);
  INFO(k.logs());
  CHECK(k.nginx.access_log().find("upstream_status=503, 101") != std::string::npos);
}

TEST_CASE("clients of a draining instance reconnect through nginx and rejoin their peers on the other", "[nginx]") {
  balanced_cluster k;
  std::vector<std::unique_ptr<blocking_connection>> clients;
  auto placed = connect_pairs(k, clients);
  REQUIRE(std::count(placed.begin(), placed.end(), 'b') > 0);

  // SIGTERM: sigserve closes its listener and every WebSocket with 1001
  // (going away), and exits 0.
  CHECK(k.b->stop(SIGTERM, 10s) == 0);
  INFO(k.logs());

  for (std::size_t i = 0; i < client_count; ++i) {
    if (placed[i] != 'b') continue;
    // A peer_left from a partner on b may come first.
    for (;;) {
      auto m = clients[i]->receive(3s);
      if (m.ok()) {
        CHECK(m->kind == message_kind::peer_left);
        continue;
      }
      INFO("client " << i << ": " << m.error().message());
      CHECK(m.error() != std::error_code(sigkit::client::errc::timeout));
      CHECK(clients[i]->close_code() == 1001);  // passed through nginx as sigserve sent it
      break;
    }
  }
  // Members on a whose partner was on b see it leave.
  for (std::size_t pair = 0; pair < client_count / 2; ++pair)
    for (auto [stayed, moved] : {std::pair{2 * pair, 2 * pair + 1}, std::pair{2 * pair + 1, 2 * pair}})
      if (placed[stayed] == 'a' && placed[moved] == 'b')
        CHECK(expect(*clients[stayed], message_kind::peer_left, 5s).peer == clients[moved]->peer());

  // Back through the same nginx URL: nginx finds b refusing connections and
  // sends them to a, where Redis still holds the rooms.
  for (std::size_t pair = 0; pair < client_count / 2; ++pair) {
    const std::size_t first = 2 * pair, second = 2 * pair + 1;
    for (auto i : {first, second}) {
      if (placed[i] != 'b') continue;
      clients[i] = std::make_unique<blocking_connection>();
      connect_through(*clients[i], k);
      CHECK(instance_of(k, *clients[i]) == 'a');
      // Whoever is in the room now: the partner if it stayed on a or has
      // already come back.
      const std::size_t other = i == first ? second : first;
      const bool other_in_room = placed[other] == 'a' || i == second;
      join_pair(*clients[i], room_of(pair), other_in_room ? clients[other].get() : nullptr);
      placed[i] = 'a';
    }
    negotiate(*clients[first], *clients[second]);
  }
  CHECK(metric(*k.a, "sigserve_connections_open").value_or(-1) == 20);
}

TEST_CASE("the demo page and health and metrics pass through nginx", "[nginx]") {
  balanced_cluster k;
  auto page = http_request(k.nginx.port(), "GET", "/");
  INFO(k.error_logs());
  CHECK(http_status(page) == 200);
  CHECK(page.find("id=\"status\"") != std::string::npos);
  CHECK(page.find("text/html") != std::string::npos);
  CHECK(http_status(http_request(k.nginx.port(), "GET", "/my-room")) == 200);
  CHECK(http_status(http_request(k.nginx.port(), "GET", "/healthz")) == 200);
  CHECK(http_status(http_request(k.nginx.port(), "GET", "/readyz")) == 200);
  // From loopback, which the shipped config allows.
  auto metrics = http_request(k.nginx.port(), "GET", "/metrics");
  CHECK(http_status(metrics) == 200);
  CHECK(metrics.find("sigserve_connections_open") != std::string::npos);
  // Not an upgrade: sigserve's own answer comes through.
  CHECK(http_status(http_request(k.nginx.port(), "GET", "/ws")) == 426);
}

TEST_CASE("sigserve names the client nginx saw and not nginx nor what the client wrote", "[nginx]") {
  balanced_cluster k;
  // All of 127/8 is loopback: a client from 127.0.0.2 reaches nginx on
  // 127.0.0.1, and nginx reaches sigserve from 127.0.0.1.
  blocking_connection from_two;
  sigkit::client::connect_options o;
  o.source_address = "127.0.0.2";
  connect_through(from_two, k, o);
  INFO(k.logs());
  CHECK(connect_line(k, from_two.peer()).second.find("remote=127.0.0.2:") != std::string::npos);

  // A client that claims another address: nginx, the first hop, replaces
  // the header, so sigserve sees the connection's own address.
  sigkit::test::raw_socket raw(k.nginx.port());
  auto text = raw.upgrade("X-Forwarded-For: 203.0.113.9\r\n");
  REQUIRE(http_status(text) == 101);
  if (text.find("welcome") == std::string::npos) text += raw.read_until("welcome", 2s);
  std::smatch peer;
  REQUIRE(std::regex_search(text, peer, std::regex(R"re("peer":"([^"]+)")re")));
  CHECK(connect_line(k, peer[1]).second.find("remote=127.0.0.1:") != std::string::npos);
  CHECK(k.a->log().find("203.0.113.9") == std::string::npos);
  CHECK(k.b->log().find("203.0.113.9") == std::string::npos);
}

TEST_CASE("the Origin check sees the host the browser addressed through nginx", "[nginx]") {
  balanced_cluster k;
  // sigserve admits a page from the host the request was addressed to:
  // nginx must pass Host on with its port.
  auto upgrade = [&](const std::string& origin) {
    sigkit::test::raw_socket raw(k.nginx.port());
    raw.write("GET /ws HTTP/1.1\r\nHost: signal.test:8443\r\nOrigin: " + origin +
              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return http_status(raw.read_until("\r\n\r\n", 5s));
  };
  const auto same_site = upgrade("https://signal.test:8443");
  const auto other_site = upgrade("https://elsewhere.test");
  INFO(k.logs());
  CHECK(same_site == 101);
  CHECK(other_site == 403);
}

TEST_CASE("sigbench through nginx runs 200 peers over both instances and loses nothing", "[nginx]") {
  balanced_cluster k;
  const auto report = temp_path("report.json");
  auto r = sigkit::test::run_command({SIGKIT_SIGBENCH_PATH, "--quiet", "--url", k.nginx.ws_url(), "--peers", "200",
                                      "--rate", "200", "--late-bound", "5s", "--json", report});
  INFO(r.out << r.err << k.logs());
  CHECK(r.status == 0);
  std::ifstream in(report);
  REQUIRE(in);
  const auto j = json::parse(in);
  CHECK(j["peers"]["joined"] == 200);
  CHECK(j["peers"]["failed"] == 0);
  CHECK(j["messages"]["lost"] == 0);
  CHECK(j["messages"]["misrouted"] == 0);
  const auto joins_a = metric(*k.a, "sigserve_joins_total").value_or(0);
  const auto joins_b = metric(*k.b, "sigserve_joins_total").value_or(0);
  CHECK(joins_a + joins_b == 200);
  CHECK(joins_a > 0);
  CHECK(joins_b > 0);
  std::filesystem::remove(report);
}
