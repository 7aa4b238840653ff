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
  CHECK(contains(make_targets({}, {}, none).error(), "--from-sigserve"));

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

TEST_CASE("credential flags are checked on their own, before anything is fetched", "[probe][targets]") {
  credential_options none;
  CHECK_FALSE(check_credential_options(none).has_value());
  credential_options half;
  half.username_ = "u";
  CHECK(contains(*check_credential_options(half), "--username needs --password"));
  credential_options rest;
  rest.secret_ = "s";
  rest.ttl_ = std::chrono::seconds(0);
  CHECK(contains(*check_credential_options(rest), "--ttl must be positive"));
}

namespace {

// protocol.md, "Additions in 1.1": a welcome with STUN and TURN servers.
const char* const welcome_text = R"({"type":"welcome","peer":"Zq3k9TfA2mXw","protocol":1,"server":"sigserve/0.2.0",
  "heartbeat":{"interval_ms":25000,"timeout_ms":60000},
  "features":["auth","ice-servers"],"user":"alice",
  "ice_servers":[{"urls":["stun:stun.example.org:3478"]},
                 {"urls":["turn:turn.example.org:3478?transport=udp","turns:turn.example.org:5349"],
                  "username":"1767225600:alice","credential":"base64-hmac-sha1"}]})";

nlohmann::json welcome_with(const char* ice_servers) {
  auto w = nlohmann::json::parse(welcome_text);
  if (ice_servers == nullptr) w.erase("ice_servers");
  else w["ice_servers"] = nlohmann::json::parse(ice_servers);
  return w;
}

}  // namespace

TEST_CASE("a welcome's ice_servers become targets as --ice-servers would", "[probe][targets]") {
  const auto r = read_welcome(nlohmann::json::parse(welcome_text), {});
  REQUIRE_FALSE(r.failure_.has_value());
  CHECK(r.welcome_.server_ == "sigserve/0.2.0");
  CHECK(r.welcome_.peer_ == "Zq3k9TfA2mXw");
  CHECK(r.welcome_.protocol_ == 1);
  CHECK(r.welcome_.features_ == std::vector<std::string>{"auth", "ice-servers"});
  REQUIRE(r.welcome_.ice_servers_.size() == 2);

  REQUIRE(r.targets_.size() == 3);
  CHECK(r.targets_[0].text_ == "stun:stun.example.org:3478");
  CHECK(r.targets_[0].credentials_.source_ == credential_source::none);
  const auto& turn = r.targets_[1];
  CHECK(turn.text_ == "turn:turn.example.org:3478?transport=udp");
  // Long-term credentials, as minted; the source only steers the hints.
  CHECK(turn.credentials_.username_ == "1767225600:alice");
  CHECK(turn.credentials_.password_ == "base64-hmac-sha1");
  CHECK(turn.credentials_.source_ == credential_source::signaling);
  CHECK(r.targets_[2].uri_.secure());
  CHECK(r.targets_[2].credentials_.username_ == "1767225600:alice");
}

TEST_CASE("a TURN entry without credentials falls back to the flags", "[probe][targets]") {
  credential_options flags;
  flags.username_ = "bob";
  flags.password_ = "builder";
  const auto r = read_welcome(welcome_with(R"([{"urls": "turn:turn.example.org"}])"), flags);
  REQUIRE_FALSE(r.failure_.has_value());
  REQUIRE(r.targets_.size() == 1);
  CHECK(r.targets_[0].credentials_.username_ == "bob");
  CHECK(r.targets_[0].credentials_.source_ == credential_source::long_term);

  // Without flags that is the welcome's fault, not a usage error.
  const auto bare = read_welcome(welcome_with(R"([{"urls": "turn:turn.example.org"}])"), {});
  REQUIRE(bare.failure_.has_value());
  CHECK(bare.failure_->kind_ == failure_kind::bad_response);
  CHECK(contains(bare.failure_->reason_, "turn:turn.example.org: TURN needs credentials"));
  CHECK(bare.targets_.empty());
}

TEST_CASE("a welcome without usable ice_servers is a failure of the signaling stage", "[probe][targets]") {
  const auto missing = read_welcome(welcome_with(nullptr), {});
  REQUIRE(missing.failure_.has_value());
  CHECK(missing.failure_->kind_ == failure_kind::no_ice_servers);
  CHECK(contains(missing.failure_->reason_, "no ice_servers"));
  CHECK(missing.welcome_.peer_ == "Zq3k9TfA2mXw");  // what the welcome said is kept

  CHECK(read_welcome(welcome_with("[]"), {}).failure_->kind_ == failure_kind::no_ice_servers);
  CHECK(read_welcome(welcome_with("null"), {}).failure_->kind_ == failure_kind::no_ice_servers);

  const std::pair<const char*, const char*> rows[] = {
      {R"({"urls": "stun:a"})", "not an array"},
      {R"([{"username": "u"}])", "ice_servers[0]: missing \"urls\""},
      {R"([{"urls": "stun:a"}, {"urls": 5}])", "ice_servers[1].urls"},
      {R"([{"urls": "http://a"}])", "unknown scheme"},
  };
  for (const auto& [list, says] : rows) {
    INFO(list);
    const auto r = read_welcome(welcome_with(list), {});
    REQUIRE(r.failure_.has_value());
    CHECK(r.failure_->kind_ == failure_kind::bad_response);
    CHECK(contains(r.failure_->reason_, says));
    CHECK(r.failure_->hint_.empty());  // left to signaling_hint
  }
  CHECK(read_welcome(nlohmann::json::array(), {}).failure_->kind_ == failure_kind::wrong_protocol);
}

TEST_CASE("a run needs its TLS context only for stuns: and turns:", "[probe][targets]") {
  credential_options flags;
  flags.username_ = "u";
  flags.password_ = "p";
  CHECK_FALSE(needs_tls(*make_targets({"stun:a", "turn:b?transport=tcp"}, {}, flags)));
  CHECK(needs_tls(*make_targets({"stun:a", "turns:b"}, {}, flags)));
  CHECK(needs_tls(*make_targets({"stuns:a"}, {}, flags)));
  CHECK_FALSE(needs_tls({}));
}
