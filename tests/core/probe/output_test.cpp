// sigprobe's JSON schema and text report, from a hand-built report.
#include "sigkit/probe/output.hpp"

#include <sstream>

#include <catch2/catch.hpp>

using namespace sigkit::probe;
using sigkit::stun::address;

namespace {

address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  return address::ipv4({a, b, c, d}, port);
}

report sample() {
  report r;
  r.ms_ = 42.5;
  server_report s;
  s.uri_ = "turn:turn.example.org";
  s.parsed_ = *sigkit::stun::parse_uri(s.uri_);
  s.ms_ = 40;

  check dns;
  dns.stage_ = stage::dns;
  dns.ok_ = true;
  dns_facts df;
  df.ipv4_ = {v4(203, 0, 114, 10, 3478)};
  df.tried_ = {{v4(203, 0, 114, 10, 3478), "ok"}};
  dns.facts_ = df;
  s.checks_.push_back(dns);

  check binding;
  binding.stage_ = stage::binding;
  binding.ok_ = true;
  binding.ms_ = 3.456;
  binding_facts bf;
  bf.server_ = v4(203, 0, 114, 10, 3478);
  bf.mapped_ = v4(198, 51, 100, 7, 61000);
  bf.rtt_ = rtt_summary{5, 4, 1.0, 2.0, 3.0};
  binding.facts_ = bf;
  binding.warnings_ = {"1 of 5 transmissions got no answer"};
  s.checks_.push_back(binding);

  check allocate;
  allocate.stage_ = stage::allocate;
  allocate.ms_ = 1;
  allocate.error_ = failure{failure_kind::stun_error, 401, "Unauthorized", "wrong username or password"};
  allocate_facts af;
  af.realm_ = "example.org";
  allocate.facts_ = af;
  s.checks_.push_back(allocate);

  r.servers_.push_back(s);
  return r;
}

}  // namespace

TEST_CASE("the JSON report has the documented shape", "[probe][report]") {
  const auto j = to_json(sample());
  CHECK(j.at("ok") == false);
  const auto& server = j.at("servers").at(0);
  CHECK(server.at("uri") == "turn:turn.example.org");
  CHECK(server.at("ok") == false);
  const auto& checks = server.at("checks");
  REQUIRE(checks.size() == 3);
  // The name comes first, so a person reading raw JSON sees it first.
  CHECK(checks[0].begin().key() == "name");
  CHECK(checks[0].at("name") == "dns");
  CHECK(checks[0].at("a") == nlohmann::ordered_json::array({"203.0.114.10"}));
  CHECK(checks[0].at("tried")[0].at("outcome") == "ok");

  const auto& b = checks[1];
  CHECK(b.at("name") == "binding");
  CHECK(b.at("ok") == true);
  CHECK(b.at("ms") == 3.46);
  CHECK(b.at("mapped_address") == "198.51.100.7:61000");
  CHECK(b.at("rtt_ms").at("avg") == 2.0);
  CHECK(b.at("sent") == 5);
  CHECK(b.at("received") == 4);
  CHECK(b.at("loss") == 0.2);
  CHECK(b.at("warnings").size() == 1);
  CHECK_FALSE(b.contains("error"));

  const auto& a = checks[2];
  CHECK(a.at("name") == "allocate");
  CHECK(a.at("relayed_address").is_null());
  CHECK(a.at("error").at("code") == 401);
  CHECK(a.at("error").at("reason") == "Unauthorized");
  CHECK(a.at("error").at("hint") == "wrong username or password");
  CHECK(a.at("error").at("kind") == "stun_error");
  CHECK_FALSE(j.contains("nat"));
}

TEST_CASE("a failure that is not a STUN error has a null code", "[probe][report]") {
  auto r = sample();
  r.servers_[0].checks_[2].error_ = failure{failure_kind::timeout, 0, "no response", "UDP is blocked"};
  const auto j = to_json(r);
  CHECK(j["servers"][0]["checks"][2]["error"]["code"].is_null());
  CHECK(j["servers"][0]["checks"][2]["error"]["kind"] == "timeout");
}

TEST_CASE("the NAT section", "[probe][report]") {
  auto r = sample();
  nat_report n;
  n.status_ = nat_status::determined;
  n.server_ = "stun:stun.example.org";
  n.observed_.local_ = v4(192, 168, 1, 10, 40000);
  n.observed_.mapped_ = v4(198, 51, 100, 7, 61000);
  n.behind_nat_ = true;
  n.mapping_ = mapping_behavior::endpoint_independent;
  n.filtering_ = filtering_behavior::address_and_port_dependent;
  n.verdict_ = "NAT, direct connections likely";
  r.nat_ = n;
  const auto j = to_json(r);
  CHECK(j.at("nat").at("mapping") == "endpoint-independent");
  CHECK(j.at("nat").at("filtering") == "address-and-port-dependent");
  CHECK(j.at("nat").at("hairpinning") == "not tested");
  CHECK(j.at("nat").at("behind_nat") == true);
  CHECK(j.at("nat").at("mapped_address") == "198.51.100.7:61000");
  CHECK(j.at("nat").at("ok") == true);
  CHECK(j.at("nat").at("status") == "determined");
  CHECK_FALSE(j.at("nat").contains("reason"));

  std::ostringstream text;
  write_text(text, r);
  CHECK(text.str().find("mapping:     endpoint-independent") != std::string::npos);
  CHECK(text.str().find("\u2713 NAT, direct connections likely") != std::string::npos);
}

TEST_CASE("the text report: a block per server, a mark per stage, hints under failures", "[probe][report]") {
  std::ostringstream out;
  write_text(out, sample());
  const auto text = out.str();
  CHECK(text.rfind("turn:turn.example.org\n", 0) == 0);
  CHECK(text.find("\u2713 dns") != std::string::npos);
  CHECK(text.find("\u2713 binding  mapped 198.51.100.7:61000, rtt 1.00/2.00/3.00 ms") != std::string::npos);
  CHECK(text.find("20% loss (4/5)") != std::string::npos);
  CHECK(text.find("! 1 of 5 transmissions got no answer") != std::string::npos);
  CHECK(text.find("\u2717 allocate 401 Unauthorized") != std::string::npos);
  CHECK(text.find("hint: wrong username or password") != std::string::npos);
  CHECK(text.find("FAILED") != std::string::npos);
  CHECK(text.find("0 of 1 server passed") != std::string::npos);
}

TEST_CASE("a NAT check that cannot tell is neutral in JSON and text", "[probe][report]") {
  auto r = sample();
  r.servers_[0].checks_.pop_back();  // every stage passed
  nat_report n;
  n.status_ = nat_status::cannot_tell;
  n.server_ = "stun:stun.example.org";
  n.observed_.local_ = v4(127, 0, 0, 1, 40000);
  n.observed_.mapped_ = v4(127, 0, 0, 1, 40000);
  n.behind_nat_ = false;
  n.reason_ = "the server sent no OTHER-ADDRESS (it does not support RFC 5780)";
  n.hint_ = "probe a server that supports RFC 5780";
  n.verdict_ = "cannot tell the NAT's mapping and filtering: " + n.reason_;
  r.nat_ = n;

  const auto j = to_json(r);
  CHECK(j.at("ok") == true);
  CHECK(j.at("nat").at("ok") == true);
  CHECK(j.at("nat").at("status") == "cannot tell");
  CHECK(j.at("nat").at("reason") == n.reason_);
  CHECK(j.at("nat").at("hint") == n.hint_);
  CHECK_FALSE(j.at("nat").contains("error"));

  std::ostringstream out;
  write_text(out, r);
  const auto text = out.str();
  CHECK(text.find("? cannot tell the NAT's mapping and filtering") != std::string::npos);
  CHECK(text.find("\u2717 cannot tell") == std::string::npos);
  CHECK(text.find("hint: probe a server that supports RFC 5780") != std::string::npos);
  CHECK(text.find("1 of 1 server passed, NAT behaviour: cannot tell") != std::string::npos);
}

namespace {

signaling_report fetched_welcome() {
  signaling_report s;
  s.url_ = "ws://sig.example.org:8080/ws";
  s.ok_ = true;
  s.ms_ = 1.234;
  welcome_facts w;
  w.server_ = "sigserve/0.1.0";
  w.peer_ = "Zq3k9TfA2mXw";
  w.protocol_ = 1;
  w.features_ = {"ice-servers"};
  ice_server stun;
  stun.urls_ = {"stun:stun.example.org"};
  ice_server turn;
  turn.urls_ = {"turn:turn.example.org", "turns:turn.example.org"};
  turn.username_ = "1767225600:Zq3k9TfA2mXw";
  turn.credential_ = "c2VjcmV0LWNyZWRlbnRpYWw=";
  turn.source_ = credential_source::signaling;
  w.ice_servers_ = {stun, turn};
  s.welcome_ = w;
  return s;
}

}  // namespace

TEST_CASE("the signaling stage: its own block and JSON member, never a credential", "[probe][report]") {
  auto r = sample();
  r.signaling_ = fetched_welcome();
  const auto j = to_json(r);
  const auto& s = j.at("signaling");
  CHECK(s.at("url") == "ws://sig.example.org:8080/ws");
  CHECK(s.at("ok") == true);
  CHECK(s.at("ms") == 1.23);
  CHECK(s.at("server") == "sigserve/0.1.0");
  CHECK(s.at("peer") == "Zq3k9TfA2mXw");
  CHECK(s.at("protocol") == 1);
  CHECK(s.at("features") == nlohmann::ordered_json::array({"ice-servers"}));
  REQUIRE(s.at("ice_servers").size() == 2);
  CHECK(s.at("ice_servers")[1].at("urls").size() == 2);
  CHECK(s.at("ice_servers")[1].at("username") == "1767225600:Zq3k9TfA2mXw");
  CHECK(j.dump().find("c2VjcmV0LWNyZWRlbnRpYWw=") == std::string::npos);
  CHECK_FALSE(s.contains("error"));
  // Before the servers, as in the text.
  CHECK(std::next(j.begin(), 2).key() == "signaling");

  std::ostringstream out;
  write_text(out, r);
  const auto text = out.str();
  CHECK(text.rfind("ws://sig.example.org:8080/ws\n  \u2713 welcome  sigserve/0.1.0, peer Zq3k9TfA2mXw, 2 ICE servers "
                   "(3 URIs), TURN username 1767225600:Zq3k9TfA2mXw  [1.23 ms]\n",
                   0) == 0);
  CHECK(text.find("c2VjcmV0LWNyZWRlbnRpYWw=") == std::string::npos);
  CHECK(text.find("0 of 1 server passed") != std::string::npos);
}

TEST_CASE("a failed signaling stage says so in the block and the summary", "[probe][report]") {
  report r;
  r.ms_ = 0.5;
  signaling_report s;
  s.url_ = "ws://127.0.0.1:9/ws";
  s.ms_ = 0.4;
  s.error_ = failure{failure_kind::upgrade_refused, 403, "HTTP 403 Forbidden: origin not allowed", "pass --origin"};
  r.signaling_ = s;
  const auto j = to_json(r);
  CHECK(j.at("ok") == false);
  CHECK(j.at("signaling").at("ok") == false);
  CHECK(j.at("signaling").at("error").at("kind") == "upgrade_refused");
  CHECK(j.at("signaling").at("error").at("code") == 403);
  CHECK_FALSE(j.at("signaling").contains("peer"));
  CHECK(j.at("servers").empty());

  std::ostringstream out;
  write_text(out, r);
  const auto text = out.str();
  CHECK(text.find("\u2717 welcome  HTTP 403 Forbidden: origin not allowed  [0.40 ms]") != std::string::npos);
  CHECK(text.find("hint: pass --origin") != std::string::npos);
  CHECK(text.find("FAILED") != std::string::npos);
  CHECK(text.find("no servers to probe: the ICE servers could not be fetched from ws://127.0.0.1:9/ws") !=
        std::string::npos);
}
