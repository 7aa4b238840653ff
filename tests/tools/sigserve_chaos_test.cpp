// Chaos across instances: random joins, leaves and relays from clients spread
// over three sigserve instances, while an instance is killed (and a new one
// started) and Redis is restarted empty; then, once everything has settled,
// the invariants a user relies on are checked against what every client saw
// and what Redis holds.
#include <map>
#include <random>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/expectations.hpp"
#include "support/redis_process.hpp"
#include "support/raw_socket.hpp"
#include "support/sigserve_process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::test::redis_process;
using sigkit::test::sigserve_process;

namespace {

constexpr int capacity = 3;
const std::vector<std::string> room_names{"r0", "r1", "r2", "r3"};

// A client as the chaos drives it, with its own view of its room.
struct client {
  std::unique_ptr<blocking_connection> conn;
  std::size_t server = 0;
  std::string room;           // empty: in none (or a join is out)
  bool joining = false;
  std::set<std::string> view;  // the others in its room, as it was told
  std::vector<std::string> isolation_breaks;
  std::chrono::steady_clock::time_point member_since;  // of its current room
  std::set<std::uint64_t> received, refused;          // relays by number: heard, and its own answered with an error
};

// A relay as sent, to be accounted for at the end.
struct sent_relay {
  std::uint64_t n;
  std::string to;
  std::chrono::steady_clock::time_point at;
  std::size_t sender;
  std::size_t server;  // the sender's instance
};

using clock = std::chrono::steady_clock;

bool ready(const sigserve_process& s) {
  return sigkit::test::http_status(sigkit::test::http_request(s.port(), "GET", "/readyz")) == 200;
}

// Members of a room as Redis holds them (a ZRANGE reply, parsed).
std::set<std::string> redis_members(const redis_process& redis, const std::string& room) {
  auto reply = redis.cli({"ZRANGE", "sigkit:room:" + room, "0", "-1"});
  std::set<std::string> out;
  std::size_t at = reply.find("\r\n") + 2;
  while (at < reply.size() && reply[at] == '$') {
    auto end = reply.find("\r\n", at);
    auto length = std::stoul(reply.substr(at + 1, end - at - 1));
    out.insert(reply.substr(end + 2, length));
    at = end + 2 + length + 2;
  }
  return out;
}

void handle(client& c, const sigkit::client::server_message& m) {
  switch (m.kind) {
    case message_kind::joined:
      c.joining = false;
      c.room = m.room;
      c.member_since = clock::now();
      c.view = {m.peers.begin(), m.peers.end()};
      break;
    case message_kind::left: c.room.clear(); c.view.clear(); break;
    case message_kind::peer_joined: if (m.room == c.room) c.view.insert(m.peer); break;
    case message_kind::peer_left: if (m.room == c.room) c.view.erase(m.peer); break;
    case message_kind::error:
      if (c.joining) c.joining = false;  // room-full or unavailable: not in a room
      if (m.body.contains("rid") && m.body["rid"].is_number_unsigned()) c.refused.insert(m.body["rid"].get<std::uint64_t>());
      break;
    case message_kind::relay:
      // A relay from someone this client does not know to be in its room.
      if (c.room.empty() || !c.view.count(m.from)) c.isolation_breaks.push_back(m.body.dump());
      if (m.body.contains("n") && m.body["n"].is_number_unsigned()) c.received.insert(m.body["n"].get<std::uint64_t>());
      break;
    default: break;
  }
}

}  // namespace

TEST_CASE("chaos: joins leaves and relays while an instance dies and Redis restarts", "[cluster][chaos]") {
  const auto seed = std::random_device{}();
  INFO("seed " << seed);
  std::mt19937 random(seed);
  redis_process redis;
  std::vector<std::unique_ptr<sigserve_process>> servers;
  auto start_instance = [&] {
    servers.push_back(std::make_unique<sigserve_process>(std::vector<std::string>{
        "--redis", redis.url(), "--room-capacity", std::to_string(capacity), "--rate-limit", "0"}));
    for (int i = 0; i < 100 && !ready(*servers.back()); ++i) std::this_thread::sleep_for(50ms);
  };
  for (int i = 0; i < 3; ++i) start_instance();
  std::set<std::size_t> live{0, 1, 2};

  std::vector<client> clients(12);
  auto reconnect = [&](client& c) {
    c.conn = std::make_unique<blocking_connection>();
    c.room.clear();
    c.view.clear();
    c.joining = false;
    for (int attempt = 0; attempt < 20; ++attempt) {
      auto it = live.begin();
      std::advance(it, random() % live.size());
      c.server = *it;
      if (!c.conn->connect(servers[c.server]->ws_url())) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("no instance takes connections");
  };
  for (auto& c : clients) reconnect(c);

  const auto begin = clock::now();
  auto drain = [&](client& c, std::chrono::milliseconds wait) {
    for (;;) {
      auto m = c.conn->receive(wait);
      if (!m.ok()) {
        if (m.error() != std::error_code(sigkit::client::errc::timeout)) {
          reconnect(c);
        }
        return;
      }
      handle(c, *m);
    }
  };

  bool killed = false, restarted_redis = false;
  std::vector<sent_relay> sent;
  clock::time_point killed_at{}, redis_stopped_at{}, redis_back_at{};
  std::uint64_t relays = 0, joins = 0, leaves = 0;
  // Long enough after Redis' restart for joins to work again (one lease)
  // and for rooms to fill and talk once more.
  while (std::chrono::steady_clock::now() - begin < 16s) {
    auto elapsed = std::chrono::steady_clock::now() - begin;
    if (!killed && elapsed > 3s) {
      killed = true;
      killed_at = clock::now();
      servers[1]->stop(SIGKILL, 2s);
      live.erase(1);
      start_instance();
      live.insert(servers.size() - 1);
    }
    if (!restarted_redis && elapsed > 7s) {
      restarted_redis = true;
      redis_stopped_at = clock::now();
      redis.stop(SIGKILL);
      std::this_thread::sleep_for(300ms);
      redis.restart();
      redis_back_at = clock::now();
    }
    auto& c = clients[random() % clients.size()];
    if (c.room.empty() && !c.joining) {
      c.joining = true;
      c.conn->send(json{{"type", "join"}, {"room", room_names[random() % room_names.size()]}});
      ++joins;
    } else if (!c.room.empty() && random() % 10 == 0) {
      c.conn->send(json{{"type", "leave"}});
      ++leaves;
    } else if (!c.room.empty() && !c.view.empty()) {
      auto it = c.view.begin();
      std::advance(it, random() % c.view.size());
      sent.push_back({relays, *it, clock::now(), static_cast<std::size_t>(&c - clients.data()), c.server});
      c.conn->send(json{{"type", "message"}, {"to", *it}, {"n", relays}, {"rid", relays}});
      ++relays;
    }
    for (auto& other : clients) drain(other, 1ms);
  }

  // Settle: sweeps of the killed instance and the restored rooms need a lease.
  std::this_thread::sleep_for(7s);
  for (auto& c : clients) drain(c, 200ms);
  INFO(joins << " joins, " << leaves << " leaves, " << relays << " relays");

  // No message reached anyone outside the sender's room.
  for (const auto& c : clients) {
    INFO("isolation breaks: " << (c.isolation_breaks.empty() ? "" : c.isolation_breaks.front()));
    CHECK(c.isolation_breaks.empty());
  }
  // Every relay was delivered or answered with an error, unless its target
  // left its room (or lost its connection) after it was sent, its sender's
  // instance was the one killed, or it was sent from just before Redis was
  // killed until it was back (what Redis had accepted and not yet delivered
  // dies with it: pub/sub delivers at most once). Once Redis is back nothing
  // is excused: a relay that reaches no subscriber is answered unavailable.
  std::map<std::string, const client*> by_peer;
  for (const auto& c : clients)
    if (!c.room.empty()) by_peer[c.conn->peer()] = &c;
  std::size_t accounted = 0, excused = 0;
  for (const auto& r : sent) {
    auto target = by_peer.find(r.to);
    bool stayed = target != by_peer.end() && target->second->member_since < r.at;
    bool near_failure = (r.server == 1 && r.at > killed_at - 500ms) ||
                        (r.at > redis_stopped_at - 300ms && r.at < redis_back_at);
    if (!stayed || near_failure) {
      ++excused;
      continue;
    }
    ++accounted;
    INFO("relay " << r.n << " to " << r.to << ", sent "
                  << std::chrono::duration<double>(r.at - redis_back_at).count() << " s after Redis came back");
    CHECK((target->second->received.count(r.n) || clients[r.sender].refused.count(r.n)));
  }
  INFO(accounted << " relays accounted for, " << excused << " excused; " << by_peer.size() << " clients in rooms at the end");
  CHECK(accounted > 0);

  // Redis and every client agree on every room: no ghost, no member in two
  // rooms, no room over capacity.
  std::map<std::string, std::set<std::string>> told;  // room -> members, as the members themselves know
  for (const auto& c : clients)
    if (!c.room.empty()) told[c.room].insert(c.conn->peer());
  std::set<std::string> seen;
  for (const auto& room : room_names) {
    auto members = redis_members(redis, room);
    INFO("room " << room);
    CHECK(members.size() <= static_cast<std::size_t>(capacity));
    CHECK(members == told[room]);
    for (const auto& m : members) CHECK(seen.insert(m).second);
  }
  // Each member's view of its room is the room, even where a peer-left was
  // sent while Redis was away and lost.
  for (const auto& c : clients) {
    if (c.room.empty()) continue;
    auto others = told[c.room];
    others.erase(c.conn->peer());
    INFO("client " << c.conn->peer() << " in " << c.room);
    CHECK(c.view == others);
  }
}
