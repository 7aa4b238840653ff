#include "sigkit/rooms/room_registry.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <map>

using namespace sigkit;
using json = nlohmann::json;

namespace {

proto::client_message msg(const json& j) {
  auto r = proto::decode(j.dump());
  REQUIRE(r.ok());
  return r.value();
}

// The registry with the part a server adds around it: every peer's own
// record of its room, kept from the outcomes as a connection keeps it.
struct lobby {
  explicit lobby(std::size_t capacity, std::size_t history = 0, rooms::room_registry::clock_ms clock = nullptr)
      : registry(capacity, history, clock) {}

  rooms::member who(const std::string& name) {
    auto [it, added] = handles.try_emplace(name, handles.size() + 1);
    return {name, it->second, {}};
  }
  std::string name_of(rooms::member_handle h) const {
    for (const auto& [name, handle] : handles)
      if (handle == h) return name;
    return "?";
  }
  rooms::outcome apply(const std::string& peer, rooms::outcome o) {
    if (o.joined) room_of[peer] = *o.joined;
    if (o.left) room_of.erase(peer);
    return o;
  }
  rooms::outcome handle(const std::string& peer, const json& message) {
    return apply(peer, registry.handle(who(peer), room_of[peer], msg(message)));
  }
  rooms::outcome join(const std::string& peer, const std::string& room) {
    return handle(peer, {{"type", "join"}, {"room", room}});
  }
  rooms::outcome disconnect(const std::string& peer) { return apply(peer, registry.disconnect(who(peer), room_of[peer])); }
  std::vector<std::string> members(const std::string& room) const {
    std::vector<std::string> out;
    for (const auto& m : registry.members(room)) out.push_back(m.id);
    return out;
  }
  // (receiver, parsed frame) pairs, in delivery order.
  std::vector<std::pair<std::string, json>> sent(const rooms::outcome& o) const {
    std::vector<std::pair<std::string, json>> out;
    for (const auto& d : o.deliveries) out.emplace_back(name_of(d.to), json::parse(*d.frame));
    return out;
  }

  rooms::room_registry registry;
  std::map<std::string, rooms::member_handle> handles;
  std::map<std::string, std::string> room_of;
};

}  // namespace

TEST_CASE("the first joiner creates the room; the next sees it and is announced") {
  lobby r(2);
  auto created = r.join("A", "foo");
  CHECK(created.rooms_delta == 1);
  CHECK(created.joined == "foo");
  auto first = r.sent(created);
  REQUIRE(first.size() == 1);
  CHECK(first[0].first == "A");
  CHECK(first[0].second == json::parse(R"({"type":"joined","room":"foo","peer":"A","peers":[]})"));

  auto joined = r.join("B", "foo");
  CHECK(joined.rooms_delta == 0);
  auto second = r.sent(joined);
  REQUIRE(second.size() == 2);
  // joined goes to the joiner before peer-joined goes to the others
  CHECK(second[0].first == "B");
  CHECK(second[0].second["peers"] == json::array({"A"}));
  CHECK(second[1].first == "A");
  CHECK(second[1].second == json::parse(R"({"type":"peer-joined","room":"foo","peer":"B"})"));
  CHECK(r.members("foo") == std::vector<std::string>{"A", "B"});
}

TEST_CASE("a full room refuses with room-full and changes nothing") {
  lobby r(2);
  r.join("A", "foo");
  r.join("B", "foo");
  auto o = r.handle("C", {{"type", "join"}, {"room", "foo"}, {"rid", 3}});
  REQUIRE(o.error == proto::error_code::room_full);
  CHECK_FALSE(o.joined);
  auto out = r.sent(o);
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == "C");
  CHECK(out[0].second["message"] == "room foo is full (2 of 2)");
  CHECK(out[0].second["rid"] == 3);
  CHECK(r.members("foo") == std::vector<std::string>{"A", "B"});
  CHECK(r.room_of["C"].empty());
}

TEST_CASE("capacity 0 means unlimited and peers lists stay oldest first") {
  lobby r(0);
  for (int i = 0; i < 50; ++i) r.join("p" + std::to_string(i), "big");
  auto out = r.sent(r.join("last", "big"));
  CHECK(out[0].second["peers"].size() == 50);
  CHECK(out[0].second["peers"][0] == "p0");
  CHECK(out[0].second["peers"][49] == "p49");
  CHECK(out.size() == 51);
}

TEST_CASE("joining twice is already-joined") {
  lobby r(2);
  r.join("A", "foo");
  auto o = r.join("A", "bar");
  CHECK(o.error == proto::error_code::already_joined);
  CHECK(r.room_of["A"] == "foo");
  CHECK(r.members("bar").empty());
  CHECK(r.registry.room_count() == 1);
}

TEST_CASE("leave answers left, tells the others, and empties rooms vanish") {
  lobby r(2);
  r.join("A", "foo");
  r.join("B", "foo");
  auto left = r.handle("A", {{"type", "leave"}, {"rid", "x"}});
  CHECK(left.left);
  auto out = r.sent(left);
  REQUIRE(out.size() == 2);
  CHECK(out[0] == std::pair<std::string, json>{"A", json::parse(R"({"type":"left","room":"foo","rid":"x"})")});
  CHECK(out[1] == std::pair<std::string, json>{"B", json::parse(R"({"type":"peer-left","room":"foo","peer":"A"})")});
  CHECK(r.registry.room_count() == 1);
  CHECK(r.disconnect("B").rooms_delta == -1);
  CHECK(r.registry.room_count() == 0);
  CHECK(r.handle("A", {{"type", "leave"}}).error == proto::error_code::not_in_room);
}

TEST_CASE("disconnect tells the rest with peer-left; a peer in no room is a no-op") {
  lobby r(3);
  r.join("A", "foo");
  r.join("B", "foo");
  r.join("C", "foo");
  auto out = r.sent(r.disconnect("B"));
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == "A");
  CHECK(out[1].first == "C");
  CHECK(out[0].second["type"] == "peer-left");
  CHECK(r.disconnect("nobody").deliveries.empty());
  // A stale claim (a room the peer is not in) changes nothing either.
  CHECK(r.registry.disconnect(r.who("nobody"), "foo").deliveries.empty());
  CHECK(r.members("foo") == std::vector<std::string>{"A", "C"});
}

TEST_CASE("relays go to the room only, with from set by the server") {
  lobby r(0);
  r.join("A", "foo");
  r.join("B", "foo");
  r.join("C", "foo");
  r.join("X", "other");

  SECTION("broadcast reaches every other member and nobody outside") {
    auto out = r.sent(r.handle("A", {{"type", "offer"}, {"sdp", "v=0"}, {"from", "X"}}));
    REQUIRE(out.size() == 2);
    CHECK(out[0].first == "B");
    CHECK(out[1].first == "C");
    for (auto& [to, frame] : out) {
      CHECK(frame["from"] == "A");
      CHECK(frame["sdp"] == "v=0");
    }
  }
  SECTION("to reaches just that peer") {
    auto out = r.sent(r.handle("A", {{"type", "candidate"}, {"to", "C"}, {"candidate", {{"sdpMid", "0"}}}}));
    REQUIRE(out.size() == 1);
    CHECK(out[0].first == "C");
    CHECK(out[0].second["candidate"]["sdpMid"] == "0");
  }
  SECTION("to a peer in another room is unknown-peer: isolation holds") {
    auto o = r.handle("A", {{"type", "offer"}, {"to", "X"}, {"rid", 1}});
    CHECK(o.error == proto::error_code::unknown_peer);
    auto out = r.sent(o);
    REQUIRE(out.size() == 1);
    CHECK(out[0].first == "A");
    CHECK(out[0].second["rid"] == 1);
  }
  SECTION("every relay type is relayed") {
    for (auto type : {"offer", "answer", "candidate", "bye", "message"}) {
      auto out = r.sent(r.handle("B", {{"type", type}, {"to", "A"}}));
      REQUIRE(out.size() == 1);
      CHECK(out[0].second["type"] == type);
    }
  }
}

TEST_CASE("a relay or leave outside a room is not-in-room, without touching rooms") {
  lobby r(2);
  CHECK(r.handle("A", {{"type", "answer"}, {"sdp", "x"}}).error == proto::error_code::not_in_room);
  auto stateless = rooms::answer_without_rooms(r.who("A"), "", msg({{"type", "leave"}}));
  REQUIRE(stateless);
  CHECK(stateless->error == proto::error_code::not_in_room);
  // A join from a peer in no room, and anything but ping from a member, need the rooms.
  CHECK_FALSE(rooms::answer_without_rooms(r.who("A"), "", msg({{"type", "join"}, {"room", "x"}})));
  CHECK_FALSE(rooms::answer_without_rooms(r.who("A"), "x", msg({{"type", "offer"}})));
}

TEST_CASE("ping is answered with pong and the rid") {
  lobby r(2);
  auto out = r.sent(r.handle("A", {{"type", "ping"}, {"rid", "q"}}));
  REQUIRE(out.size() == 1);
  CHECK(out[0].second == json::parse(R"({"type":"pong","rid":"q"})"));
}

TEST_CASE("a broadcast encodes its frame once for every receiver") {
  lobby r(0);
  for (auto p : {"A", "B", "C", "D"}) r.join(p, "foo");
  auto o = r.handle("A", {{"type", "message"}, {"text", "hi"}});
  REQUIRE(o.deliveries.size() == 3);
  CHECK(o.deliveries[0].frame == o.deliveries[2].frame);
}

TEST_CASE("with users (auth on), joined names each member's user and peer-joined the newcomer's") {
  rooms::room_registry r(3);
  auto join = [](std::string room) {
    auto m = proto::decode(json{{"type", "join"}, {"room", room}}.dump());
    REQUIRE(m.ok());
    return m.value();
  };
  rooms::member alice{"A", 1, "alice"}, bob{"B", 2, "bob"};
  auto first = r.handle(alice, "", join("team"));
  CHECK_FALSE(json::parse(*first.deliveries[0].frame).contains("users"));  // nobody else yet
  auto second = r.handle(bob, "", join("team"));
  auto joined = json::parse(*second.deliveries[0].frame);
  CHECK(joined["users"] == json{{"A", "alice"}});
  auto notice = json::parse(*second.deliveries[1].frame);
  CHECK(notice["user"] == "bob");
}

namespace {
std::int64_t fixed_clock() { return 1764590000123; }
}  // namespace

TEST_CASE("room history: a joiner gets the last N broadcast messages, oldest first, as their receivers got them") {
  lobby l(0, 2, fixed_clock);
  l.join("a", "chat");
  l.join("b", "chat");
  for (int i = 1; i <= 3; ++i) l.handle("a", {{"type", "message"}, {"text", "hi " + std::to_string(i)}});
  // Addressed relays and other types are not kept.
  l.handle("a", {{"type", "message"}, {"to", "b"}, {"text", "private"}});
  l.handle("a", {{"type", "offer"}, {"sdp", "v=0"}});
  auto joined = l.sent(l.join("c", "chat")).front().second;
  REQUIRE(joined["type"] == "joined");
  REQUIRE(joined["history"].size() == 2);
  CHECK(joined["history"][0] == json({{"ts", 1764590000123}, {"from", "a"}, {"type", "message"}, {"text", "hi 2"}}));
  CHECK(joined["history"][1]["text"] == "hi 3");
  // The room is gone once empty, and its history with it.
  for (const char* p : {"a", "b", "c"}) l.disconnect(p);
  auto fresh = l.sent(l.join("d", "chat")).front().second;
  CHECK(fresh["history"] == json::array());
}

TEST_CASE("without room history joined has no history member, and a relay keeps nothing") {
  lobby l(0);
  l.join("a", "chat");
  l.join("b", "chat");
  auto relayed = l.handle("a", {{"type", "message"}, {"text", "x"}});
  CHECK_FALSE(relayed.kept);
  CHECK_FALSE(l.sent(l.join("c", "chat")).front().second.contains("history"));
}

TEST_CASE("a history from elsewhere replaces what the registry kept, trimmed to N") {
  lobby l(0, 2, fixed_clock);
  l.join("a", "chat");
  l.registry.set_history("chat", {R"({"ts":1,"from":"z","type":"message","n":1})", R"({"ts":2,"from":"z","type":"message","n":2})",
                                  R"({"ts":3,"from":"z","type":"message","n":3})"});
  auto joined = l.sent(l.join("b", "chat")).front().second;
  REQUIRE(joined["history"].size() == 2);
  CHECK(joined["history"][0]["n"] == 2);
  CHECK(joined["history"][1]["n"] == 3);
}
