#include "sigkit/rooms/room_registry.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace sigkit;
using json = nlohmann::json;

namespace {

proto::client_message msg(const json& j) {
  auto r = proto::decode(j.dump());
  REQUIRE(r.ok());
  return r.value();
}

// (receiver, parsed frame) pairs, in delivery order.
std::vector<std::pair<std::string, json>> sent(const rooms::outcome& o) {
  std::vector<std::pair<std::string, json>> out;
  for (const auto& d : o.deliveries) out.emplace_back(d.to, json::parse(*d.frame));
  return out;
}

rooms::outcome join(rooms::room_registry& r, const std::string& peer, const std::string& room) {
  return r.handle(peer, msg({{"type", "join"}, {"room", room}}));
}

}  // namespace

TEST_CASE("the first joiner creates the room; the next sees it and is announced") {
  rooms::room_registry r(2);
  auto first = sent(join(r, "A", "foo"));
  REQUIRE(first.size() == 1);
  CHECK(first[0].first == "A");
  CHECK(first[0].second == json::parse(R"({"type":"joined","room":"foo","peer":"A","peers":[]})"));

  auto second = sent(join(r, "B", "foo"));
  REQUIRE(second.size() == 2);
  // joined goes to the joiner before peer-joined goes to the others
  CHECK(second[0].first == "B");
  CHECK(second[0].second["peers"] == json::array({"A"}));
  CHECK(second[1].first == "A");
  CHECK(second[1].second == json::parse(R"({"type":"peer-joined","room":"foo","peer":"B"})"));
  CHECK(r.members("foo") == std::vector<std::string>{"A", "B"});
}

TEST_CASE("a full room refuses with room-full and changes nothing") {
  rooms::room_registry r(2);
  join(r, "A", "foo");
  join(r, "B", "foo");
  auto o = r.handle("C", msg({{"type", "join"}, {"room", "foo"}, {"rid", 3}}));
  REQUIRE(o.error == proto::error_code::room_full);
  auto out = sent(o);
  REQUIRE(out.size() == 1);
  CHECK(out[0].first == "C");
  CHECK(out[0].second["message"] == "room foo is full (2 of 2)");
  CHECK(out[0].second["rid"] == 3);
  CHECK(r.members("foo") == std::vector<std::string>{"A", "B"});
  CHECK_FALSE(r.room_of("C"));
}

TEST_CASE("capacity 0 means unlimited and peers lists stay oldest first") {
  rooms::room_registry r(0);
  for (int i = 0; i < 50; ++i) join(r, "p" + std::to_string(i), "big");
  auto out = sent(join(r, "last", "big"));
  CHECK(out[0].second["peers"].size() == 50);
  CHECK(out[0].second["peers"][0] == "p0");
  CHECK(out[0].second["peers"][49] == "p49");
  CHECK(out.size() == 51);
}

TEST_CASE("joining twice is already-joined") {
  rooms::room_registry r(2);
  join(r, "A", "foo");
  auto o = join(r, "A", "bar");
  CHECK(o.error == proto::error_code::already_joined);
  CHECK(r.room_of("A") == "foo");
  CHECK(r.members("bar").empty());
}

TEST_CASE("leave answers left, tells the others, and empties rooms vanish") {
  rooms::room_registry r(2);
  join(r, "A", "foo");
  join(r, "B", "foo");
  auto out = sent(r.handle("A", msg({{"type", "leave"}, {"rid", "x"}})));
  REQUIRE(out.size() == 2);
  CHECK(out[0] == std::pair<std::string, json>{"A", json::parse(R"({"type":"left","room":"foo","rid":"x"})")});
  CHECK(out[1] == std::pair<std::string, json>{"B", json::parse(R"({"type":"peer-left","room":"foo","peer":"A"})")});
  CHECK(r.room_count() == 1);
  r.disconnect("B");
  CHECK(r.room_count() == 0);
  CHECK(r.handle("A", msg({{"type", "leave"}})).error == proto::error_code::not_in_room);
}

TEST_CASE("disconnect tells the rest with peer-left; unknown peers are a no-op") {
  rooms::room_registry r(3);
  join(r, "A", "foo");
  join(r, "B", "foo");
  join(r, "C", "foo");
  auto out = sent(r.disconnect("B"));
  REQUIRE(out.size() == 2);
  CHECK(out[0].first == "A");
  CHECK(out[1].first == "C");
  CHECK(out[0].second["type"] == "peer-left");
  CHECK(r.disconnect("nobody").deliveries.empty());
}

TEST_CASE("relays go to the room only, with from set by the server") {
  rooms::room_registry r(0);
  join(r, "A", "foo");
  join(r, "B", "foo");
  join(r, "C", "foo");
  join(r, "X", "other");

  SECTION("broadcast reaches every other member and nobody outside") {
    auto out = sent(r.handle("A", msg({{"type", "offer"}, {"sdp", "v=0"}, {"from", "X"}})));
    REQUIRE(out.size() == 2);
    CHECK(out[0].first == "B");
    CHECK(out[1].first == "C");
    for (auto& [to, frame] : out) {
      CHECK(frame["from"] == "A");
      CHECK(frame["sdp"] == "v=0");
    }
  }
  SECTION("to reaches just that peer") {
    auto out = sent(r.handle("A", msg({{"type", "candidate"}, {"to", "C"}, {"candidate", {{"sdpMid", "0"}}}})));
    REQUIRE(out.size() == 1);
    CHECK(out[0].first == "C");
    CHECK(out[0].second["candidate"]["sdpMid"] == "0");
  }
  SECTION("to a peer in another room is unknown-peer: isolation holds") {
    auto o = r.handle("A", msg({{"type", "offer"}, {"to", "X"}, {"rid", 1}}));
    CHECK(o.error == proto::error_code::unknown_peer);
    auto out = sent(o);
    REQUIRE(out.size() == 1);
    CHECK(out[0].first == "A");
    CHECK(out[0].second["rid"] == 1);
  }
  SECTION("every relay type is relayed") {
    for (auto type : {"offer", "answer", "candidate", "bye", "message"}) {
      auto out = sent(r.handle("B", msg({{"type", type}, {"to", "A"}})));
      REQUIRE(out.size() == 1);
      CHECK(out[0].second["type"] == type);
    }
  }
}

TEST_CASE("a relay outside a room is not-in-room") {
  rooms::room_registry r(2);
  auto o = r.handle("A", msg({{"type", "answer"}, {"sdp", "x"}}));
  CHECK(o.error == proto::error_code::not_in_room);
}

TEST_CASE("ping is answered with pong and the rid") {
  rooms::room_registry r(2);
  auto out = sent(r.handle("A", msg({{"type", "ping"}, {"rid", "q"}})));
  REQUIRE(out.size() == 1);
  CHECK(out[0].second == json::parse(R"({"type":"pong","rid":"q"})"));
}

TEST_CASE("a broadcast encodes its frame once for every receiver") {
  rooms::room_registry r(0);
  for (auto p : {"A", "B", "C", "D"}) join(r, p, "foo");
  auto o = r.handle("A", msg({{"type", "message"}, {"text", "hi"}}));
  REQUIRE(o.deliveries.size() == 3);
  CHECK(o.deliveries[0].frame == o.deliveries[2].frame);
}
