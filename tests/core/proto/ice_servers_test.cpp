#include "sigkit/proto/ice_servers.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sigkit/proto/message.hpp"
#include "sigkit/stun/credentials.hpp"

using namespace sigkit;
using json = nlohmann::json;

TEST_CASE("ice_servers carry TURN REST credentials coturn accepts, minted per connection") {
  proto::ice_config config;
  config.stun_uris = {"stun:stun.example.org:3478"};
  config.turn_uris = {"turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349"};
  config.turn_secret = "north";
  config.turn_ttl = std::chrono::seconds(3600);
  auto servers = json::parse(proto::ice_servers_json(config, "alice", 1'767'222'000));
  REQUIRE(servers.size() == 2);
  CHECK(servers[0] == json{{"urls", {"stun:stun.example.org:3478"}}});
  CHECK(servers[1]["urls"].size() == 2);
  // Seconds, not milliseconds: the unit coturn expects.
  CHECK(servers[1]["username"] == "1767225600:alice");
  auto expected = stun::make_turn_rest_credentials("north", "alice", 1'767'222'000, 3600);
  CHECK(servers[1]["credential"] == expected.password_);
  // Another connection, another user: other credentials.
  auto other = json::parse(proto::ice_servers_json(config, "bob", 1'767'222'000));
  CHECK(other[1]["credential"] != servers[1]["credential"]);
}

TEST_CASE("a welcome with additions names features, user and ICE servers; without, it is the 1.0 welcome") {
  auto plain = json::parse(proto::encode_welcome("P", "sigserve/1", {25000, 60000}));
  CHECK_FALSE(plain.contains("features"));
  CHECK_FALSE(plain.contains("ice_servers"));
  CHECK_FALSE(plain.contains("user"));
  proto::welcome_additions more;
  more.features = {"auth", "ice-servers"};
  more.user = "alice";
  more.ice_servers_json = R"([{"urls":["stun:s.example:3478"]}])";
  auto full = json::parse(proto::encode_welcome("P", "sigserve/1", {25000, 60000}, more));
  CHECK(full["features"] == json::array({"auth", "ice-servers"}));
  CHECK(full["user"] == "alice");
  CHECK(full["ice_servers"][0]["urls"][0] == "stun:s.example:3478");
  CHECK(full["protocol"] == 1);
}
