// sigprobe against a real coturn on loopback (and, for --from-sigserve, a
// real sigserve handing out that coturn): what a user running the tool sees,
// stage by stage, and its exit code.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>

#include <atomic>
#include <functional>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/coturn_process.hpp"
#include "support/sigserve_process.hpp"
#include "sigkit/stun/credentials.hpp"
#include "sigkit/websocket/frame.hpp"
#include "sigkit/websocket/handshake.hpp"

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

// A TCP port on 127.0.0.1 that accepts connections (the kernel completes
// the handshake from the backlog) and never says a word.
class silent_tcp_listener {
 public:
  silent_tcp_listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
  }
  ~silent_tcp_listener() { close(fd_); }
  silent_tcp_listener(const silent_tcp_listener&) = delete;
  silent_tcp_listener& operator=(const silent_tcp_listener&) = delete;
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A TCP server on 127.0.0.1 that answers every request with what `answer`
// makes of it (the request's head), then waits for the client to hang up:
// what a signaling URL may reach instead of a signaling server.
class scripted_http_server {
 public:
  using answer_fn = std::function<std::string(const std::string& request_head)>;
  explicit scripted_http_server(answer_fn answer) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 8) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("cannot listen on 127.0.0.1");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (poll(&p, 1, 50) != 1) continue;
        const int c = accept(fd_, nullptr, nullptr);
        if (c < 0) continue;
        std::string head;
        char buf[2048];
        while (head.find("\r\n\r\n") == std::string::npos && !stop_) {
          pollfd q{c, POLLIN, 0};
          if (poll(&q, 1, 50) != 1) continue;
          const auto n = recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          head.append(buf, static_cast<std::size_t>(n));
        }
        const auto reply = answer(head);
        if (send(c, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) {
          close(c);
          continue;
        }
        // Until the client hangs up (it closes after reading), or a second.
        for (int i = 0; i < 20 && !stop_; ++i) {
          pollfd q{c, POLLIN, 0};
          if (poll(&q, 1, 50) == 1 && recv(c, buf, sizeof buf, 0) <= 0) break;
        }
        close(c);
      }
    });
  }
  ~scripted_http_server() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  scripted_http_server(const scripted_http_server&) = delete;
  scripted_http_server& operator=(const scripted_http_server&) = delete;
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string http_response(const std::string& status, const std::string& extra_headers, const std::string& body) {
  return "HTTP/1.1 " + status + "\r\n" + extra_headers + "Content-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// RFC 6455 §4.2.2: a correct 101 for the client's key, then one text frame.
std::string upgrade_then(const std::string& request_head, const std::string& first_message) {
  const auto at = request_head.find("Sec-WebSocket-Key: ");
  const auto key = request_head.substr(at + 19, request_head.find("\r\n", at) - at - 19);
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: " +
         sigkit::websocket::accept_key(key).value_or("") + "\r\n\r\n" +
         sigkit::websocket::server_frame(sigkit::websocket::opcode::text, first_message);
}

// sigserve handing out this coturn's STUN and TURN URIs (TURN over UDP, TCP
// and TLS by name), with TURN REST credentials minted from `secret`.
std::vector<std::string> sigserve_ice_args(const coturn_process& turn, const std::string& secret) {
  return {"--stun-uri",  turn.stun_uri(),     //
          "--turn-uri",  turn.turn_uri(),     //
          "--turn-uri",  turn.turn_tcp_uri(), //
          "--turn-uri",  turn.turns_name_uri(),
          "--turn-secret", secret};
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

TEST_CASE("NAT discovery against a server without RFC 5780 cannot tell, and fails nothing", "[sigprobe]") {
  // coturn on one address sends no OTHER-ADDRESS.
  coturn_config config;
  config.rfc5780_ = false;
  coturn_process turn(config);
  const auto r = probe_json({turn.stun_uri(), "--nat"});
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(check_named(r.doc["servers"][0], "binding").contains("other_address") == false);
  // The exit code follows the servers' stages.
  CHECK(r.process.status == 0);
  CHECK(r.doc.at("ok") == true);
  const auto& nat = r.doc.at("nat");
  CHECK(nat.at("ok") == true);
  CHECK(nat.at("status") == "cannot tell");
  CHECK(nat.at("reason").get<std::string>().find("no OTHER-ADDRESS") != std::string::npos);
  CHECK(nat.at("hint").get<std::string>().find("listening-ip") != std::string::npos);
  CHECK(nat.at("verdict").get<std::string>().rfind("cannot tell", 0) == 0);
  CHECK(nat.at("behind_nat") == false);
  CHECK(nat.at("mapping") == "unknown");
  CHECK_FALSE(nat.contains("error"));

  const auto text = run_sigprobe({turn.stun_uri(), "--nat"});
  CHECK(text.status == 0);
  CHECK(text.out.find("? cannot tell the NAT's mapping and filtering: the server sent no OTHER-ADDRESS") !=
        std::string::npos);
  CHECK(text.out.find("\u2717") == std::string::npos);
  CHECK(text.out.find("1 of 1 server passed, NAT behaviour: cannot tell") != std::string::npos);

  // A failing server fails the run all the same; the NAT check stays neutral.
  const auto closed = "stun:127.0.0.1:" + std::to_string(free_port_block(1));
  const auto failing = probe_json({turn.stun_uri(), closed, "--nat"});
  CHECK(failing.process.status == 1);
  CHECK(failing.doc.at("nat").at("status") == "cannot tell");

  // A plain STUN server of the test's own says the same.
  slow_stun_server plain(std::chrono::milliseconds(0));
  const auto p = probe_json({plain.uri(), "--nat", "--timeout", "5s"});
  CHECK(p.process.status == 0);
  CHECK(p.doc.at("nat").at("status") == "cannot tell");
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

TEST_CASE("several TLS servers in one run share a TLS context and keep their own names", "[sigprobe]") {
  coturn_process turn;
  const auto tls = std::to_string(turn.tls_port());
  const std::vector<std::string> verified{turn.turns_uri(), turn.turns_name_uri(), "stuns:127.0.0.1:" + tls,
                                          "stuns:localhost:" + tls, turn.turns_name_uri() + "?transport=tcp"};
  auto args = verified;
  // The certificate names 127.0.0.1 and localhost, not 127.0.0.2: the name
  // each connection checks is its own, whatever the others check.
  args.push_back("stuns:127.0.0.2:" + tls);
  for (const char* a : {"--username", "alice", "--password", "wonderland", "--ca-file"}) args.push_back(a);
  args.push_back(certificate().cert_path_);
  const auto r = probe_json(args);
  INFO(r.process.out << r.process.err << turn.log());
  CHECK(r.process.status == 1);
  REQUIRE(r.doc.at("servers").size() == 6);
  for (std::size_t i = 0; i < verified.size(); ++i) {
    const auto& server = r.doc["servers"][i];
    INFO(server.dump(2));
    CHECK(server.at("ok") == true);
    CHECK(check_named(server, "tls").at("verified") == true);
  }
  // SNI for names only (RFC 6066 §3).
  CHECK(check_named(r.doc["servers"][0], "tls").at("sni").is_null());
  CHECK(check_named(r.doc["servers"][1], "tls").at("sni") == "localhost");
  CHECK(check_names(r.doc["servers"][1]) ==
        std::vector<std::string>{"dns", "connect", "tls", "binding", "allocate", "relay", "refresh"});
  const auto& mismatch = check_named(r.doc["servers"][5], "tls");
  CHECK(mismatch.at("verified") == false);
  CHECK(mismatch.at("error").at("hint").get<std::string>().find("not valid for '127.0.0.2'") != std::string::npos);

  // The same list without the wrong name passes as a whole.
  auto good = verified;
  for (const char* a : {"--username", "alice", "--password", "wonderland", "--ca-file"}) good.push_back(a);
  good.push_back(certificate().cert_path_);
  CHECK(run_sigprobe(good).status == 0);
}

TEST_CASE("a CA file that is not PEM fails every TLS check with the reason, and nothing else", "[sigprobe]") {
  coturn_process turn;
  const std::string path = "/tmp/sigprobe-not-pem-" + std::to_string(turn.port()) + ".pem";
  std::ofstream(path) << "this is not a certificate\n";
  const auto r = probe_json({turn.stuns_uri(), turn.turns_name_uri(), turn.stun_uri(), "--username", "alice",
                             "--password", "wonderland", "--ca-file", path});
  std::remove(path.c_str());
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  for (int i : {0, 1}) {
    const auto& tls = check_named(r.doc["servers"][i], "tls");
    CHECK(tls.at("error").at("kind") == "tls_setup");
    CHECK(tls.at("error").at("reason").get<std::string>().find("cannot load trusted certificates from " + path) !=
          std::string::npos);
    CHECK(tls.at("error").at("hint").get<std::string>().find("PEM") != std::string::npos);
  }
  CHECK(r.doc["servers"][2].at("ok") == true);
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
  for (const char* flag : {"--ice-servers", "--from-sigserve", "--origin", "--username", "--password", "--secret",
                           "--ttl", "--count", "--timeout", "--nat", "--json", "--insecure", "--ca-file"})
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
      {{"--from-sigserve", "http://127.0.0.1:8080/ws"}, "expected a ws:// URL"},
      {{"--from-sigserve", "wss://127.0.0.1:8080/ws"}, "wss:// is not supported yet"},
      {{"--from-sigserve", "ws://127.0.0.1:99999/ws"}, "bad host or port"},
      {{"--from-sigserve", "ws://127.0.0.1:8080/ws", "--password", "p"}, "--password needs --username"},
      {{"stun:127.0.0.1", "--origin", "https://app.example.org"}, "--origin requires --from-sigserve"},
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

TEST_CASE("the ICE servers a signaling server hands out are probed with the credentials it minted",
          "[sigprobe][sigserve]") {
  coturn_config config;
  config.auth_ = turn_auth::rest_secret;
  coturn_process turn(config);
  sigserve_process sig(sigserve_ice_args(turn, config.secret_));
  const auto r = probe_json({"--from-sigserve", sig.ws_url(), "--ca-file", certificate().cert_path_});
  INFO(r.process.out << r.process.err << turn.log() << sig.log());
  CHECK(r.process.status == 0);
  CHECK(r.doc.at("ok") == true);

  const auto& s = r.doc.at("signaling");
  CHECK(s.at("url") == sig.ws_url());
  CHECK(s.at("ok") == true);
  CHECK(s.at("server").get<std::string>().rfind("sigserve/", 0) == 0);
  CHECK(s.at("protocol") == 1);
  CHECK(s.at("features") == json::array({"ice-servers"}));
  const std::string peer = s.at("peer");
  REQUIRE(s.at("ice_servers").size() == 2);
  // Minted for this connection: "<unix expiry>:<peer id>", an hour ahead
  // by sigserve's default; the credential itself is never printed.
  const std::string username = s.at("ice_servers")[1].at("username");
  CHECK(username.substr(username.find(':') + 1) == peer);
  const auto expiry = std::stoll(username.substr(0, username.find(':')));
  CHECK(expiry > unix_now() + 3500);
  CHECK(expiry <= unix_now() + 3601);
  CHECK_FALSE(s.at("ice_servers")[1].contains("credential"));
  CHECK(r.process.out.find("\"credential\"") == std::string::npos);

  // Every stage of every server passes with the minted credentials.
  const auto& servers = r.doc.at("servers");
  REQUIRE(servers.size() == 4);
  const std::vector<std::string> uris{turn.stun_uri(), turn.turn_uri(), turn.turn_tcp_uri(), turn.turns_name_uri()};
  for (std::size_t i = 0; i < uris.size(); ++i) {
    INFO(servers[i].dump(2));
    CHECK(servers[i].at("uri") == uris[i]);
    CHECK(servers[i].at("ok") == true);
  }
  CHECK(check_names(servers[3]) ==
        std::vector<std::string>{"dns", "connect", "tls", "binding", "allocate", "relay", "refresh"});
  CHECK(check_named(servers[1], "relay").at("received") == 5);

  const auto text = run_sigprobe({"--from-sigserve", sig.ws_url(), "--ca-file", certificate().cert_path_});
  CHECK(text.status == 0);
  CHECK(text.out.rfind(sig.ws_url() + "\n  \u2713 welcome  sigserve/", 0) == 0);
  CHECK(text.out.find("2 ICE servers (4 URIs), TURN username ") != std::string::npos);
  CHECK(text.out.find("4 of 4 servers passed") != std::string::npos);
}

TEST_CASE("a signaling server minting with another secret than coturn's fails allocate with 401",
          "[sigprobe][sigserve]") {
  coturn_config config;
  config.auth_ = turn_auth::rest_secret;
  coturn_process turn(config);
  sigserve_process sig({"--turn-uri", turn.turn_uri(), "--turn-secret", "not-" + config.secret_});
  const auto r = probe_json({"--from-sigserve", sig.ws_url()});
  INFO(r.process.out << r.process.err << sig.log());
  CHECK(r.process.status == 1);
  CHECK(r.doc.at("signaling").at("ok") == true);
  const auto& server = r.doc.at("servers").at(0);
  CHECK(check_named(server, "binding").at("ok") == true);
  const auto& allocate = check_named(server, "allocate");
  CHECK(allocate.at("error").at("code") == 401);
  const std::string hint = allocate.at("error").at("hint");
  CHECK(hint.find("TURN REST credentials the signaling server minted") != std::string::npos);
  CHECK(hint.find("--turn-secret") != std::string::npos);
  CHECK(hint.find("static-auth-secret") != std::string::npos);
  CHECK(check_names(server) == std::vector<std::string>{"dns", "binding", "allocate"});
}

TEST_CASE("a signaling server without ICE servers fails the signaling stage",
          "[sigprobe][sigserve]") {
  sigserve_process sig;
  const auto r = probe_json({"--from-sigserve", sig.ws_url()});
  INFO(r.process.out << r.process.err << sig.log());
  CHECK(r.process.status == 1);
  CHECK(r.doc.at("ok") == false);
  const auto& s = r.doc.at("signaling");
  CHECK(s.at("ok") == false);
  CHECK(s.at("peer").get<std::string>().size() == 12);  // the welcome came, without ice_servers
  CHECK(s.at("error").at("kind") == "no_ice_servers");
  CHECK(s.at("error").at("reason") == "the welcome has no ice_servers");
  const std::string hint = s.at("error").at("hint");
  CHECK(hint.find("--stun-uri") != std::string::npos);
  CHECK(hint.find("--turn-uri") != std::string::npos);
  CHECK(r.doc.at("servers").empty());

  const auto text = run_sigprobe({"--from-sigserve", sig.ws_url()});
  CHECK(text.status == 1);
  CHECK(text.err.empty());
  CHECK(text.out.find("\u2717 welcome  the welcome has no ice_servers") != std::string::npos);
  CHECK(text.out.find("hint: the signaling server hands out no ICE servers") != std::string::npos);
  CHECK(text.out.find("no servers to probe: the ICE servers could not be fetched from " + sig.ws_url()) !=
        std::string::npos);
}

TEST_CASE("a closed port, a wrong path and a refused Origin fail the signaling stage with a hint",
          "[sigprobe][sigserve]") {
  const auto closed = "ws://127.0.0.1:" + std::to_string(free_port_block(1)) + "/ws";
  const auto r = probe_json({"--from-sigserve", closed});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  CHECK(r.process.seconds < 2.0);
  const auto& error = r.doc.at("signaling").at("error");
  CHECK(error.at("kind") == "refused");
  CHECK(error.at("hint").get<std::string>().find("nothing accepts TCP connections") != std::string::npos);
  CHECK_FALSE(r.doc.at("signaling").contains("peer"));

  coturn_process turn;
  sigserve_process sig({"--stun-uri", turn.stun_uri(), "--allowed-origin", "https://app.example.org"});
  const auto wrong_path = probe_json({"--from-sigserve", "ws://127.0.0.1:" + std::to_string(sig.port()) + "/nowhere"});
  CHECK(wrong_path.process.status == 1);
  const auto& e404 = wrong_path.doc.at("signaling").at("error");
  CHECK(e404.at("kind") == "upgrade_refused");
  CHECK(e404.at("code") == 404);
  CHECK(e404.at("reason").get<std::string>().find("Server: sigserve/") != std::string::npos);
  CHECK(e404.at("hint").get<std::string>().find("/ws") != std::string::npos);

  // --origin is sent as Origin: the server's allow-list decides.
  const auto evil = probe_json({"--from-sigserve", sig.ws_url(), "--origin", "https://evil.example.org"});
  INFO(sig.log());
  CHECK(evil.process.status == 1);
  const auto& e403 = evil.doc.at("signaling").at("error");
  CHECK(e403.at("kind") == "upgrade_refused");
  CHECK(e403.at("code") == 403);
  CHECK(e403.at("reason").get<std::string>().rfind("HTTP 403 Forbidden: origin not allowed", 0) == 0);
  CHECK(e403.at("hint").get<std::string>().find("--origin") != std::string::npos);
  const auto allowed = probe_json({"--from-sigserve", sig.ws_url(), "--origin", "https://app.example.org"});
  CHECK(allowed.process.status == 0);
  CHECK(allowed.doc.at("servers").at(0).at("uri") == turn.stun_uri());
}

TEST_CASE("what is not a signaling server fails the signaling stage and says what it is", "[sigprobe][sigserve]") {
  struct row {
    scripted_http_server::answer_fn answer;
    const char* kind;
    int code;  // HTTP status, or 0
    const char* reason;
    const char* hint;
  };
  const row rows[] = {
      {[](const std::string&) { return http_response("200 OK", "Content-Type: text/html\r\n", "<!doctype html>"); },
       "upgrade_refused", 200, "HTTP 200 OK", "without upgrading"},
      {[](const std::string&) { return http_response("401 Unauthorized", "", "token required"); }, "upgrade_refused",
       401, "HTTP 401 Unauthorized: token required", "token"},
      {[](const std::string&) {
         return http_response("503 Service Unavailable", "Retry-After: 5\r\nServer: sigserve/9\r\n", "full");
       },
       "upgrade_refused", 503, "HTTP 503 Service Unavailable: full (Retry-After: 5) (Server: sigserve/9)",
       "try again later"},
      {[](const std::string&) { return std::string("SSH-2.0-OpenSSH_9.2\r\n"); }, "wrong_protocol", 0, "not HTTP",
       "does not speak sigkit's signaling protocol"},
      {[](const std::string& head) { return upgrade_then(head, R"({"type":"pong"})"); }, "wrong_protocol", 0,
       "the first message is a 'pong', not a welcome", "signaling protocol"},
      {[](const std::string& head) { return upgrade_then(head, "hello"); }, "wrong_protocol", 0,
       "not a JSON object", "signaling protocol"},
  };
  for (const auto& r : rows) {
    scripted_http_server server(r.answer);
    const auto p = probe_json({"--from-sigserve", server.ws_url(), "--timeout", "5s"});
    INFO(p.process.out << p.process.err);
    CHECK(p.process.status == 1);
    CHECK(p.process.seconds < 3.0);
    const auto& e = p.doc.at("signaling").at("error");
    CHECK(e.at("kind") == r.kind);
    if (r.code != 0) CHECK(e.at("code") == r.code);
    else CHECK(e.at("code").is_null());
    CHECK(e.at("reason").get<std::string>().find(r.reason) != std::string::npos);
    CHECK(e.at("hint").get<std::string>().find(r.hint) != std::string::npos);
  }

  // A TURN server's port: coturn resets the connection.
  coturn_process turn;
  const auto p = probe_json({"--from-sigserve", "ws://127.0.0.1:" + std::to_string(turn.port()) + "/ws"});
  INFO(p.process.out);
  CHECK(p.process.status == 1);
  CHECK(p.doc.at("signaling").at("error").at("hint").get<std::string>().find("not a signaling server") !=
        std::string::npos);
}

TEST_CASE("the run's --timeout covers fetching from a signaling server, and given URIs do not wait",
          "[sigprobe][sigserve]") {
  coturn_process turn;
  silent_tcp_listener silent;
  const auto r = probe_json({"--from-sigserve", silent.ws_url(), turn.stun_uri(), "--timeout", "1s"});
  INFO(r.process.out << r.process.err);
  CHECK(r.process.status == 1);
  CHECK(r.process.seconds < 2.5);
  const auto& s = r.doc.at("signaling");
  CHECK(s.at("error").at("kind") == "timeout");
  CHECK(s.at("error").at("reason") == "no answer to the WebSocket upgrade");
  CHECK(s.at("ms").get<double>() >= 900);
  // The URI given beside it ran at once and passed.
  REQUIRE(r.doc.at("servers").size() == 1);
  CHECK(r.doc["servers"][0].at("ok") == true);
  CHECK(r.doc["servers"][0].at("ms").get<double>() < 500);
}
