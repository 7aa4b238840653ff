#include "sigkit/bench/scenario.hpp"

#include <catch2/catch.hpp>

#include "sigkit/bench/report.hpp"

using namespace sigkit::bench;
using json = nlohmann::json;

TEST_CASE("a scenario reads flag-named keys, numbers as numbers or strings") {
  auto s = scenario_from_json(json::parse(R"({
    "url": "ws://127.0.0.1:9/ws", "peers": 12000, "room-size": "6", "rate": 2000,
    "ramp-up": "2s", "hold": 0.5, "candidates": 2, "leave": "bye",
    "source-addresses": "127.0.0.2-127.0.0.4", "thresholds": ["join.p99<20ms", "lost==0"]})"));
  REQUIRE(s.ok());
  CHECK(s->url == "ws://127.0.0.1:9/ws");
  CHECK(s->peers == 12000u);
  CHECK(s->room_size == 6);
  CHECK(s->rate == 2000);
  CHECK(s->ramp_up == std::chrono::seconds(2));
  CHECK(s->hold == std::chrono::milliseconds(500));
  CHECK(s->leave == leave_mode::bye);
  CHECK(s->source_addresses == std::vector<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4"});
  REQUIRE(s->thresholds.size() == 2);
  CHECK(s->thresholds[0].metric == "join.p99");
}

TEST_CASE("a scenario carries the TLS settings of a wss:// target") {
  auto s = scenario_from_json(json::parse(R"({"url": "wss://example.test/ws", "ca-file": "ca.pem", "insecure": true})"));
  REQUIRE(s.ok());
  CHECK(s->url == "wss://example.test/ws");
  CHECK(s->ca_file == "ca.pem");
  CHECK(s->insecure);
  auto defaults = scenario_from_json(json::object());
  REQUIRE(defaults.ok());
  CHECK(defaults->ca_file.empty());
  CHECK_FALSE(defaults->insecure);
}

TEST_CASE("overrides apply on top of a base scenario") {
  scenario base;
  base.name = "file";
  base.peers = 50;
  auto s = scenario_from_json(json{{"rate", "0"}, {"concurrency", "10"}}, base);
  REQUIRE(s.ok());
  CHECK(s->name == "file");
  CHECK(s->peers == 50u);
  CHECK(s->rate == 0);
}

TEST_CASE("scenario mistakes are errors that name the setting") {
  auto error_of = [](const char* text) {
    auto s = scenario_from_json(json::parse(text));
    REQUIRE_FALSE(s.ok());
    return s.error();
  };
  CHECK(error_of(R"({"peer": 10})").find("unknown setting \"peer\"") != std::string::npos);
  CHECK(error_of(R"({"peers": -1})").find("\"peers\"") != std::string::npos);
  CHECK(error_of(R"({"peers": 2.5})").find("\"peers\"") != std::string::npos);
  CHECK(error_of(R"({"hold": "soon"})").find("\"hold\"") != std::string::npos);
  CHECK(error_of(R"({"leave": "run"})").find("\"leave\"") != std::string::npos);
  CHECK(error_of(R"({"thresholds": ["join.p98<1ms"]})").find("join.p98") != std::string::npos);
  CHECK(error_of(R"({"source-addresses": "127.0.0.9-127.0.0.2"})").find("range") != std::string::npos);
  CHECK(error_of(R"({"rate": 0, "concurrency": 1, "room-size": 2})").find("concurrency") != std::string::npos);
  CHECK(error_of("[1]").find("object") != std::string::npos);
  CHECK(error_of(R"({"insecure": "yes"})").find("\"insecure\" must be true or false") != std::string::npos);
  CHECK(error_of(R"({"ca-file": 1})").find("\"ca-file\"") != std::string::npos);
  CHECK(error_of(R"({"peers": 7, "room-size": 2})").find("multiple of room-size") != std::string::npos);
}

TEST_CASE("scenario files report unreadable and invalid files") {
  CHECK(load_scenario_file("/nonexistent.json").error().find("cannot read") != std::string::npos);
  CHECK(load_scenario_file("/etc/hostname").error().find("not valid JSON") != std::string::npos);
}

TEST_CASE("a report answers threshold metrics, and errors.<code> defaults to zero") {
  report r;
  r.latency["join"].record(std::chrono::milliseconds(3));
  r.latency["relay"];
  r.lost = 2;
  r.errors["room-full"] = 4;
  CHECK(r.metric("join.p99").value() == Approx(3).epsilon(0.01));
  CHECK(r.metric("join.count") == 1);
  CHECK_FALSE(r.metric("relay.p99"));  // no samples: not measured, not zero
  CHECK(r.metric("relay.count") == 0);
  CHECK(r.metric("lost") == 2);
  CHECK(r.metric("errors") == 4);
  CHECK(r.metric("errors.rate-limited") == 0);
  auto lost = parse_threshold("lost==0");
  auto join = parse_threshold("join.p99<5ms");
  r.evaluate({*lost, *join});
  CHECK_FALSE(r.verdicts[0].ok);
  CHECK(r.verdicts[1].ok);
  CHECK_FALSE(r.thresholds_ok());
  auto j = to_json(r);
  CHECK(j["thresholds"][0]["value"] == 2);
  CHECK(j["latency_ms"]["join"]["count"] == 1);
}
