// The protocol's ordering and isolation guarantees, under load, on many event
// loops at once: several senders per room, every receiver checking what it
// gets, and rooms raced for their last slot. The sanitizer builds run this too
// (ThreadSanitizer for the hub and the loops).
#include <atomic>
#include <barrier>
#include <map>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sigkit/client/client.hpp"
#include "support/sigserve_process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::test::sigserve_process;

namespace {

constexpr int messages_per_sender = 300;

// What one member saw; checked after every thread has finished.
struct member_log {
  std::string id;
  std::string room;
  std::vector<std::string> violations;
  std::map<std::string, int> received;  // sender -> count
  bool complete = false;
};

void run_member(const sigserve_process& s, const std::string& room, std::size_t room_size, member_log& log) {
  blocking_connection c;
  if (auto ec = c.connect(s.ws_url())) {
    log.violations.push_back("connect: " + ec.message());
    return;
  }
  log.id = c.peer();
  log.room = room;
  c.send(json{{"type", "join"}, {"room", room}});
  // Sending starts right after our own `joined`: the others must still see
  // our peer-joined before any of these.
  auto first = c.receive(10s);
  if (!first.ok() || first->kind != message_kind::joined) {
    log.violations.push_back("the first message after welcome is not joined");
    return;
  }
  std::set<std::string> known(first->peers.begin(), first->peers.end());
  std::map<std::string, int> next_seq;  // sender -> the seq it must send next
  std::set<std::string> done, left;
  for (int i = 0; i < messages_per_sender; ++i)
    c.send(json{{"type", "message"}, {"seq", i}, {"room", room}});
  // `done` goes out once the room is full, so that every member hears it.
  bool said_done = false;

  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (done.size() < room_size - 1 && std::chrono::steady_clock::now() < deadline) {
    if (!said_done && known.size() == room_size - 1) {
      c.send(json{{"type", "message"}, {"done", true}, {"room", room}});
      said_done = true;
    }
    auto m = c.receive(5s);
    if (!m.ok()) {
      log.violations.push_back("receive: " + m.error().message());
      return;
    }
    if (m->kind == message_kind::peer_joined) {
      known.insert(m->peer);
      continue;
    }
    if (m->kind == message_kind::peer_left) {
      // Members go once they have heard everyone; never before their own `done`.
      if (!done.count(m->peer)) log.violations.push_back("a member left before its done");
      left.insert(m->peer);
      continue;
    }
    if (m->kind != message_kind::relay) {
      log.violations.push_back("unexpected " + m->body.dump());
      continue;
    }
    const auto& from = m->from;
    if (!known.count(from)) log.violations.push_back("a relay from " + from + " before its peer-joined");
    if (left.count(from)) log.violations.push_back("a relay from " + from + " after its peer-left");
    if (m->body.value("room", "") != room) log.violations.push_back("a relay from another room");
    if (from == log.id) log.violations.push_back("a broadcast came back to its sender");
    if (m->body.contains("done")) {
      done.insert(from);
      continue;
    }
    int seq = m->body.value("seq", -1);
    auto [it, first_from_sender] = next_seq.try_emplace(from, seq);
    // A member hears a sender from whatever it sent after this member joined,
    // then every message in order, none missing.
    if (seq != it->second) log.violations.push_back("out of order from " + from);
    it->second = seq + 1;
    ++log.received[from];
  }
  for (const auto& [sender, seq] : next_seq)
    if (seq != messages_per_sender) log.violations.push_back("missing the tail of " + sender);
  log.complete = done.size() == room_size - 1;
}

}  // namespace

TEST_CASE("several senders per room on 8 loops: order per sender, peer-joined first, isolation", "[sigserve][ordering]") {
  constexpr std::size_t rooms = 12, room_size = 4;
  sigserve_process s({"--threads", "8", "--room-capacity", std::to_string(room_size), "--rate-limit", "0",
                      "--log-level", "warn"});
  std::vector<member_log> logs(rooms * room_size);
  std::vector<std::thread> members;
  for (std::size_t i = 0; i < logs.size(); ++i)
    members.emplace_back([&, i] { run_member(s, "order-" + std::to_string(i % rooms), room_size, logs[i]); });
  for (auto& t : members) t.join();

  std::size_t total = 0;
  for (const auto& log : logs) {
    INFO("member " << log.id << " of " << log.room);
    for (const auto& v : log.violations) FAIL_CHECK(v);
    CHECK(log.complete);
    for (const auto& [sender, n] : log.received) total += static_cast<std::size_t>(n);
  }
  // Every member hears at least the messages sent after the last member joined.
  CHECK(total > 0);
  INFO("server log:\n" << s.log());
}

TEST_CASE("rooms raced for their last slots admit exactly their capacity", "[sigserve][ordering]") {
  constexpr int racers = 24, capacity = 3, rounds = 5;
  sigserve_process s({"--threads", "8", "--room-capacity", std::to_string(capacity), "--log-level", "warn"});
  for (int round = 0; round < rounds; ++round) {
    std::vector<std::unique_ptr<blocking_connection>> clients;
    for (int i = 0; i < racers; ++i) {
      clients.push_back(std::make_unique<blocking_connection>());
      REQUIRE_FALSE(clients.back()->connect(s.ws_url()));
    }
    std::barrier start(racers);
    std::atomic<int> joined{0}, full{0}, other{0};
    std::vector<std::thread> threads;
    const std::string room = "race-" + std::to_string(round);
    for (int i = 0; i < racers; ++i)
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        auto r = clients[i]->join(room);
        if (r.ok() && r->kind == message_kind::joined) ++joined;
        else if (r.ok() && r->code == "room-full") ++full;
        else ++other;
      });
    for (auto& t : threads) t.join();
    CHECK(joined == capacity);
    CHECK(full == racers - capacity);
    CHECK(other == 0);
  }
}
