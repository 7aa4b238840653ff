// RTCIceServer lists and credentials turned into sigprobe targets.
#include "sigkit/probe/targets.hpp"

#include <catch2/catch.hpp>

#include "sigkit/stun/credentials.hpp"

using namespace sigkit::probe;

namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("RTCIceServer lists in the shapes web apps write them", "[probe][targets]") {
  const auto list = parse_ice_servers(R"([
    {"urls": "stun:stun.example.org"},
    {"urls": ["turn:turn.example.org", "turns:turn.example.org"], "username": "u", "credential": "p"}
  ])");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].urls_ == std::vector<std::string>{"stun:stun.example.org"});
  CHECK_FALSE((*list)[0].username_.has_value());
  CHECK((*list)[1].urls_.size() == 2);
  CHECK((*list)[1].username_ == "u");
  CHECK((*list)[1].credential_ == "p");

  // A whole RTCConfiguration, a single object, and the legacy "url".
  CHECK(parse_ice_servers(R"({"iceServers": [{"urls": "stun:a"}], "iceTransportPolicy": "all"})")->size() == 1);
  CHECK(parse_ice_servers(R"({"urls": "stun:a"})")->size() == 1);
  CHECK(parse_ice_servers(R"([{"url": "stun:a"}])")->front().urls_.front() == "stun:a");
}

TEST_CASE("broken RTCIceServer lists are one-line errors", "[probe][targets]") {
  const std::pair<const char*, const char*> rows[] = {
      {"[{\"urls\": ", "not valid JSON"},
      {"42", "expected an array"},
      {"[]", "empty"},
      {"[{}]", "iceServers[0]: missing \"urls\""},
      {"[{\"urls\": 7}]", "expected a string or an array"},
      {"[{\"urls\": [\"stun:a\", 1]}]", "every entry must be a string"},
      {"[{\"urls\": []}]", "empty"},
      {"[{\"urls\": \"turn:a\", \"username\": 5}]", "username: expected a string"},
      {"[{\"urls\": \"turn:a\", \"credentialType\": \"oauth\"}]", "only \"password\""},
  };
  for (const auto& [text, says] : rows) {
    const auto r = parse_ice_servers(text);
    INFO(text);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error(), says));
    CHECK_FALSE(contains(r.error(), "\n"));
  }
}

TEST_CASE("credentials go to the TURN URIs that need them", "[probe][targets]") {
  credential_options flags;
  flags.username_ = "alice";
  flags.password_ = "wonderland";
  ice_server own;
  own.urls_ = {"turn:own.example.org"};
  own.username_ = "bob";
  own.credential_ = "builder";
  const auto t = make_targets({"stun:a.example.org", "turn:b.example.org?transport=tcp"}, {own}, flags);
  REQUIRE(t.ok());
  REQUIRE(t->size() == 3);
  CHECK((*t)[0].credentials_.source_ == credential_source::none);  // STUN needs none
  CHECK((*t)[1].credentials_.username_ == "alice");
  CHECK((*t)[1].credentials_.source_ == credential_source::long_term);
  CHECK((*t)[1].uri_.transport_ == sigkit::stun::uri_transport::tcp);
  CHECK((*t)[2].credentials_.username_ == "bob");  // an ICE server's own credentials win
  CHECK((*t)[2].text_ == "turn:own.example.org");
}

TEST_CASE("a shared secret makes coturn REST credentials", "[probe][targets]") {
  credential_options flags;
  flags.secret_ = "north";
  flags.username_ = "alice";
  flags.ttl_ = std::chrono::seconds(600);
  flags.now_unix_ = 1'700'000'000;
  const auto t = make_targets({"turn:turn.example.org"}, {}, flags);
  REQUIRE(t.ok());
  const auto& c = t->front().credentials_;
  CHECK(c.source_ == credential_source::rest_secret);
  CHECK(c.username_ == "1700000600:alice");
  CHECK(c.password_ == sigkit::stun::make_turn_rest_credentials("north", "alice", 1'700'000'000, 600).password_);
}

TEST_CASE("targets that cannot be probed are usage errors", "[probe][targets]") {
  credential_options none;
  CHECK(contains(make_targets({"turn:t.example.org"}, {}, none).error(), "TURN needs credentials"));
  CHECK(contains(make_targets({"stun:"}, {}, none).error(), "missing host"));
  CHECK(contains(make_targets({}, {}, none).error(), "nothing to probe"));

  credential_options half;
  half.password_ = "p";
  CHECK(contains(make_targets({"stun:a"}, {}, half).error(), "--password needs --username"));
  credential_options both;
  both.username_ = "u";
  both.password_ = "p";
  both.secret_ = "s";
  CHECK(contains(make_targets({"stun:a"}, {}, both).error(), "exclude each other"));

  // An ICE server with a username but no credential has no credentials.
  ice_server partial;
  partial.urls_ = {"turn:t.example.org"};
  partial.username_ = "u";
  CHECK(contains(make_targets({}, {partial}, none).error(), "turn:t.example.org: TURN needs credentials"));
}
