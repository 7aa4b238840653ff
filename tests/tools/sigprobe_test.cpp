// sigprobe against a real coturn on loopback: what a user running the tool
// sees, stage by stage, and its exit code.
#include <chrono>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/coturn_process.hpp"
#include "sigkit/stun/credentials.hpp"

using namespace sigkit::test;
using json = nlohmann::json;

namespace {

struct json_run {
  process_result process;
  json doc;
};

json_run probe_json(std::vector<std::string> args, const std::string& stdin_text = {}) {
  args.push_back("--json");
  json_run r{run_sigprobe(std::move(args), stdin_text), {}};
  r.doc = json::parse(r.process.out, nullptr, false);
  return r;
}

const json& check_named(const json& server, const std::string& name) {
  for (const auto& c : server.at("checks"))
    if (c.at("name") == name) return c;
  FAIL("no check named " << name << " in " << server.dump(2));
  throw std::logic_error("unreachable");
}

std::vector<std::string> check_names(const json& server) {
  std::vector<std::string> names;
  for (const auto& c : server.at("checks")) names.push_back(c.at("name"));
  return names;
}

std::string port_of(const std::string& address) { return address.substr(address.rfind(':') + 1); }

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("binding works over UDP, TCP and TLS and reports our mapped address", "[sigprobe]") {
  coturn_process turn;
  const auto r = probe_json({turn.stun_uri(), turn.turn_tcp_uri(), turn.stuns_uri(), "--username", "alice",
                             "--password", "wonderland", "--ca-file", certificate().cert_path_});
  INFO(r.process.out << r.process.err << turn.log());
  REQUIRE(r.process.status == 0);
  REQUIRE(r.doc.at("servers").size() == 3);

  const auto& udp = r.doc["servers"][0];
  CHECK(check_names(udp) == std::vector<std::string>{"dns", "binding"});
  const auto& udp_binding = check_named(udp, "binding");
  CHECK(udp_binding.at("ok") == true);
  CHECK(udp_binding.at("mapped_address").get<std::string>().rfind("127.0.0.1:", 0) == 0);
  CHECK(udp_binding.at("received") == 5);
  CHECK(udp_binding.at("loss") == 0.0);
  // coturn with two listening addresses supports RFC 5780.
  CHECK(udp_binding.at("other_address") == "127.0.0.2:" + std::to_string(turn.alt_port()));

  // Over TCP the mapped address is the connection's own source address.
  const auto& tcp = r.doc["servers"][1];
  CHECK(check_names(tcp) == std::vector<std::string>{"dns", "connect", "binding", "allocate", "relay", "refresh"});
  CHECK(check_named(tcp, "binding").at("mapped_address") == check_named(tcp, "connect").at("local_address"));

  const auto& tls = r.doc["servers"][2];
  CHECK(check_names(tls) == std::vector<std::string>{"dns", "connect", "tls", "binding"});
  const auto& handshake = check_named(tls, "tls");
  CHECK(handshake.at("verified") == true);
  CHECK(handshake.at("days_left").get<int>() >= 28);
  CHECK(check_named(tls, "binding").at("mapped_address") == check_named(tls, "connect").at("local_address"));
}

TEST_CASE("allocate and relay with the right password pass every stage", "[sigprobe]") {
  coturn_process turn;
  const auto r = probe_json({turn.turn_uri(), "--username", "alice", "--password", "wonderland", "--count", "4"});
  INFO(r.process.out << r.process.err << turn.log());
  REQUIRE(r.process.status == 0);
  const auto& server = r.doc["servers"][0];
  CHECK(server.at("ok") == true);
  CHECK(check_names(server) == std::vector<std::string>{"dns", "binding", "allocate", "relay", "refresh"});

  const auto& allocate = check_named(server, "allocate");
  const int relayed_port = std::stoi(port_of(allocate.at("relayed_address")));
  CHECK(relayed_port >= turn.relay_min_port());
  CHECK(relayed_port <= turn.relay_max_port());
  CHECK(allocate.at("realm") == "sigkit.test");
  CHECK(allocate.at("lifetime_s").get<int>() > 0);
  CHECK(allocate.at("mapped_address") == check_named(server, "binding").at("mapped_address"));

  const auto& relay = check_named(server, "relay");
  CHECK(relay.at("sent") == 4);
  CHECK(relay.at("received") == 4);
  CHECK(relay.at("rtt_ms").at("max").get<double>() < 1000);
  CHECK(check_named(server, "refresh").at("ok") == true);

  // The human report says the same.
  const auto text = run_sigprobe({turn.turn_uri(), "--username", "alice", "--password", "wonderland"});
  CHECK(text.status == 0);
  CHECK(text.out.find("\u2713 allocate relayed 127.0.0.1:") != std::string::npos);
  CHECK(text.out.find("\u2713 relay") != std::string::npos);
  CHECK(text.out.find("1 of 1 server passed") != std::string::npos);
}

TEST_CASE("a wrong password fails allocate with 401 and says why", "[sigprobe]") {
  coturn_process turn;
  const auto r = probe_json({turn.turn_uri(), "--username", "alice", "--password", "not-the-password"});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  const auto& server = r.doc["servers"][0];
  CHECK(server.at("ok") == false);
  CHECK(check_named(server, "binding").at("ok") == true);
  const auto& allocate = check_named(server, "allocate");
  CHECK(allocate.at("ok") == false);
  CHECK(allocate.at("error").at("code") == 401);
  const std::string hint = allocate.at("error").at("hint");
  CHECK(hint.find("wrong username or password") != std::string::npos);
  CHECK(hint.find("sigkit.test") != std::string::npos);
  // Nothing was allocated, so nothing is relayed or refreshed.
  CHECK(check_names(server) == std::vector<std::string>{"dns", "binding", "allocate"});

  const auto text = run_sigprobe({turn.turn_uri(), "--username", "alice", "--password", "not-the-password"});
  CHECK(text.status == 1);
  CHECK(text.out.find("\u2717 allocate 401") != std::string::npos);
  CHECK(text.out.find("hint: wrong username or password") != std::string::npos);
}

TEST_CASE("TURN REST credentials from --secret allocate and relay", "[sigprobe]") {
  coturn_config config;
  config.auth_ = turn_auth::rest_secret;
  coturn_process turn(config);
  const auto r = probe_json({turn.turn_uri(), turn.turn_tcp_uri(), "--secret", config.secret_, "--username", "bob",
                             "--ttl", "10m"});
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(r.process.status == 0);
  for (const auto& server : r.doc.at("servers")) CHECK(check_named(server, "relay").at("ok") == true);

  // A wrong secret is a 401 whose hint points at the secret.
  const auto wrong = probe_json({turn.turn_uri(), "--secret", "another-secret"});
  CHECK(wrong.process.status == 1);
  const auto& allocate = check_named(wrong.doc["servers"][0], "allocate");
  CHECK(allocate.at("error").at("code") == 401);
  CHECK(allocate.at("error").at("hint").get<std::string>().find("static-auth-secret") != std::string::npos);
}

TEST_CASE("expired TURN REST credentials fail with a hint about the expiry", "[sigprobe]") {
  coturn_config config;
  config.auth_ = turn_auth::rest_secret;
  coturn_process turn(config);
  // What a web app handed out three hours ago, valid for one hour.
  const auto stale = sigkit::stun::make_turn_rest_credentials(config.secret_, "carol", unix_now() - 3 * 3600, 3600);
  const auto r = probe_json({turn.turn_uri(), "--username", stale.username_, "--password", stale.password_});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  const auto& allocate = check_named(r.doc["servers"][0], "allocate");
  CHECK(allocate.at("error").at("code") == 401);
  const std::string hint = allocate.at("error").at("hint");
  CHECK(hint.find("expired") != std::string::npos);
  CHECK(hint.find("expired 2 h ago") != std::string::npos);

  // The same secret with a fresh expiry works: the expiry was the problem.
  const auto fresh = sigkit::stun::make_turn_rest_credentials(config.secret_, "carol", unix_now(), 3600);
  CHECK(run_sigprobe({turn.turn_uri(), "--username", fresh.username_, "--password", fresh.password_}).status == 0);
}

TEST_CASE("a closed port fails fast and a silent one within the timeout", "[sigprobe]") {
  const auto closed = free_port_block(1);
  const std::string port = std::to_string(closed);
  const auto r = probe_json({"stun:127.0.0.1:" + port, "turn:127.0.0.1:" + port + "?transport=tcp", "--username",
                             "u", "--password", "p", "--timeout", "5s"});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  CHECK(r.process.seconds < 2.0);  // refused, not timed out
  const auto& udp = check_named(r.doc["servers"][0], "binding");
  CHECK(udp.at("error").at("kind") == "refused");
  CHECK(udp.at("error").at("hint").get<std::string>().find("nothing listens on UDP") != std::string::npos);
  const auto& tcp = check_named(r.doc["servers"][1], "connect");
  CHECK(tcp.at("error").at("kind") == "refused");

  // A port that swallows datagrams: RFC 8489 retransmissions, cut off by --timeout.
  slow_stun_server silent(std::chrono::hours(1));
  const auto s = probe_json({silent.uri(), "--timeout", "2s"});
  CHECK(s.process.status == 1);
  CHECK(s.process.seconds < 3.0);
  const auto& binding = check_named(s.doc["servers"][0], "binding");
  CHECK(binding.at("error").at("kind") == "timeout");
  CHECK(binding.at("sent") == 3);  // at 0, 500 and 1500 ms
  CHECK(binding.at("error").at("hint").get<std::string>().find("UDP is blocked") != std::string::npos);
}

TEST_CASE("NAT discovery on loopback finds no NAT and endpoint-independent behaviour", "[sigprobe]") {
  coturn_process turn;
  const auto r = probe_json({turn.stun_uri(), "--nat"});
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(r.process.status == 0);
  const auto& nat = r.doc.at("nat");
  CHECK(nat.at("ok") == true);
  CHECK(nat.at("behind_nat") == false);
  CHECK(nat.at("mapping") == "endpoint-independent");
  CHECK(nat.at("filtering") == "endpoint-independent");
  CHECK(nat.at("local_address") == nat.at("mapped_address"));
  CHECK(nat.at("verdict").get<std::string>().rfind("no NAT", 0) == 0);

  const auto text = run_sigprobe({turn.stun_uri(), "--nat"});
  CHECK(text.out.find("mapping:     endpoint-independent") != std::string::npos);
  CHECK(text.out.find("no NAT") != std::string::npos);
}

TEST_CASE("NAT discovery against a server without RFC 5780 says so", "[sigprobe]") {
  // A plain STUN server: no OTHER-ADDRESS.
  slow_stun_server plain(std::chrono::milliseconds(0));
  const auto r = probe_json({plain.uri(), "--nat", "--timeout", "5s"});
  CHECK(r.process.status == 1);
  const auto& nat = r.doc.at("nat");
  CHECK(nat.at("ok") == false);
  CHECK(nat.at("behind_nat") == false);
  CHECK(nat.at("error").at("hint").get<std::string>().find("RFC 5780") != std::string::npos);
}

TEST_CASE("an RTCIceServer list is probed in parallel", "[sigprobe]") {
  coturn_process turn;
  // Three servers that take 400 ms per answer: 3 requests each is 1.2 s a
  // server, 3.6 s if they were probed one after another.
  slow_stun_server slow1(std::chrono::milliseconds(400)), slow2(std::chrono::milliseconds(400)),
      slow3(std::chrono::milliseconds(400));
  const json ice = json::array({
      {{"urls", json::array({turn.turn_uri(), turn.turn_tcp_uri()})}, {"username", "alice"}, {"credential", "wonderland"}},
      {{"urls", turn.stun_uri()}},
      {{"urls", json::array({slow1.uri(), slow2.uri(), slow3.uri()})}},
  });
  const auto r = probe_json({"--ice-servers", "-", "--count", "3"}, ice.dump());
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(r.process.status == 0);
  REQUIRE(r.doc.at("servers").size() == 6);
  for (const auto& server : r.doc["servers"]) CHECK(server.at("ok") == true);
  CHECK(check_named(r.doc["servers"][3], "binding").at("rtt_ms").at("min").get<double>() >= 400);
  // About the slowest server, not the sum.
  CHECK(r.process.seconds >= 1.2);
  CHECK(r.process.seconds < 2.4);

  // The same list from a file, and a list that is not JSON.
  const std::string path = "/tmp/sigprobe-ice-" + std::to_string(turn.port()) + ".json";
  std::ofstream(path) << json::array({{{"urls", turn.stun_uri()}}}).dump();
  CHECK(run_sigprobe({"--ice-servers", path}).status == 0);
  std::remove(path.c_str());
  const auto bad = run_sigprobe({"--ice-servers", "-"}, "[{\"urls\": ");
  CHECK(bad.status == 2);
  CHECK(bad.err.find("not valid JSON") != std::string::npos);
}

TEST_CASE("TLS certificate problems are reported and --insecure goes on", "[sigprobe]") {
  coturn_process turn;
  // The test certificate is self-signed: without --ca-file it is not trusted.
  const auto untrusted = probe_json({turn.stuns_uri()});
  CHECK(untrusted.process.status == 1);
  const auto& tls = check_named(untrusted.doc["servers"][0], "tls");
  CHECK(tls.at("error").at("kind") == "certificate");
  CHECK(tls.at("error").at("hint").get<std::string>().find("self-signed") != std::string::npos);
  CHECK(tls.at("subject").get<std::string>().find("sigprobe test") != std::string::npos);

  // --insecure: the probe goes on, and still says what was wrong.
  const auto insecure = probe_json({turn.stuns_uri(), "--insecure"});
  CHECK(insecure.process.status == 0);
  const auto& tls2 = check_named(insecure.doc["servers"][0], "tls");
  CHECK(tls2.at("verified") == false);
  CHECK(tls2.at("warnings")[0].get<std::string>().find("self-signed") != std::string::npos);

  // Trusted, but not issued for 127.0.0.2.
  const auto other_name = probe_json({"stuns:127.0.0.2:" + std::to_string(turn.tls_port()), "--ca-file",
                                      certificate().cert_path_});
  CHECK(other_name.process.status == 1);
  const auto& tls3 = check_named(other_name.doc["servers"][0], "tls");
  CHECK(tls3.at("error").at("hint").get<std::string>().find("not valid for '127.0.0.2'") != std::string::npos);
}

TEST_CASE("a server that refuses loopback peers fails relay with its peer policy", "[sigprobe]") {
  coturn_config config;
  config.allow_loopback_peers_ = false;
  coturn_process turn(config);
  const auto r = probe_json({turn.turn_uri(), "--username", "alice", "--password", "wonderland"});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  const auto& server = r.doc["servers"][0];
  CHECK(check_named(server, "allocate").at("ok") == true);
  const auto& relay = check_named(server, "relay");
  CHECK(relay.at("error").at("code") == 403);
  CHECK(relay.at("error").at("hint").get<std::string>().find("peer policy") != std::string::npos);
  // The allocation is freed all the same.
  CHECK(check_named(server, "refresh").at("ok") == true);
}

TEST_CASE("help and version", "[sigprobe]") {
  const auto help = run_sigprobe({"--help"});
  CHECK(help.status == 0);
  for (const char* flag : {"--ice-servers", "--username", "--password", "--secret", "--ttl", "--count", "--timeout",
                           "--nat", "--json", "--insecure", "--ca-file"})
    CHECK(help.out.find(flag) != std::string::npos);
  const auto version = run_sigprobe({"--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("sigprobe ", 0) == 0);
}

TEST_CASE("usage errors exit 2 with one line on stderr", "[sigprobe]") {
  struct row {
    std::vector<std::string> args;
    const char* says;
  };
  const row rows[] = {
      {{"http://example.org"}, "unknown scheme"},
      {{"stun:"}, "missing host"},
      {{"turn:127.0.0.1"}, "TURN needs credentials"},
      {{"--ice-servers", "/nonexistent/ice.json"}, "cannot read"},
      {{"stun:127.0.0.1", "--timeout", "soon"}, "expected a duration"},
      {{}, "nothing to probe"},
      {{"turn:127.0.0.1", "--password", "p"}, "--password needs --username"},
  };
  for (const auto& r : rows) {
    const auto p = run_sigprobe(r.args);
    INFO(p.err);
    CHECK(p.status == 2);
    CHECK(p.out.empty());
    CHECK(p.err.find(r.says) != std::string::npos);
    CHECK(std::count(p.err.begin(), p.err.end(), '\n') == 1);
  }
}

TEST_CASE("TURN over IPv6 loopback with an IPv4 relay", "[sigprobe]") {
  coturn_config config;
  config.ipv6_ = true;
  coturn_process turn(config);
  const auto r = probe_json({turn.turn_v6_uri(), "--username", "alice", "--password", "wonderland"});
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(r.process.status == 0);
  const auto& server = r.doc["servers"][0];
  CHECK(check_named(server, "dns").at("aaaa") == json::array({"::1"}));
  // XOR-MAPPED-ADDRESS in its IPv6 form (RFC 8489 §14.2).
  CHECK(check_named(server, "binding").at("mapped_address").get<std::string>().rfind("[::1]:", 0) == 0);
  CHECK(check_named(server, "allocate").at("relayed_address").get<std::string>().rfind("127.0.0.1:", 0) == 0);
  CHECK(check_named(server, "relay").at("received") == 5);
}

TEST_CASE("a 300 ALTERNATE-SERVER redirect is followed once", "[sigprobe]") {
  coturn_process target;
  coturn_config config;
  config.extra_lines_ = {"alternate-server=127.0.0.1:" + std::to_string(target.port())};
  coturn_process redirecting(config);
  const auto r = probe_json({redirecting.turn_uri(), "--username", "alice", "--password", "wonderland"});
  INFO(r.process.out << r.process.err << redirecting.log());
  CHECK(r.process.status == 0);
  const auto& allocate = check_named(r.doc["servers"][0], "allocate");
  CHECK(allocate.at("redirected_to") == "127.0.0.1:" + std::to_string(target.port()));
  CHECK(allocate.at("warnings")[0].get<std::string>().find("300 Try Alternate") != std::string::npos);
  CHECK(check_named(r.doc["servers"][0], "relay").at("ok") == true);
}

TEST_CASE("438 Stale Nonce is retried once with the new nonce", "[sigprobe]") {
  scripted_turn_server turn("alice", "wonderland");
  const auto r = probe_json({turn.uri(), "--username", "alice", "--password", "wonderland", "--timeout", "5s"});
  INFO(r.process.out << r.process.err);
  const auto& server = r.doc["servers"][0];
  const auto& allocate = check_named(server, "allocate");
  CHECK(allocate.at("ok") == true);
  CHECK(allocate.at("stale_nonce_retried") == true);
  CHECK(allocate.at("realm") == scripted_turn_server::realm);
  // This server refuses every peer; the probe says so and still frees the allocation.
  CHECK(check_named(server, "relay").at("error").at("code") == 403);
  CHECK(check_named(server, "refresh").at("ok") == true);
  CHECK(r.process.status == 1);
}

TEST_CASE("a response signed with another key fails MESSAGE-INTEGRITY", "[sigprobe]") {
  scripted_turn_server turn("alice", "another password");
  const auto r = probe_json({turn.uri(), "--username", "alice", "--password", "wonderland", "--timeout", "5s"});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  const auto& allocate = check_named(r.doc["servers"][0], "allocate");
  CHECK(allocate.at("error").at("kind") == "integrity");
  CHECK(allocate.at("error").at("hint").get<std::string>().find("MESSAGE-INTEGRITY") != std::string::npos);
}
