// sigprobe's decisions: retransmission schedule (RFC 8489 §6.2.1), hints,
// NAT classification (RFC 5780 §4) and verdicts, without a network.
#include "sigkit/probe/diagnosis.hpp"

#include <catch2/catch.hpp>

using namespace sigkit::probe;
using sigkit::stun::address;
using std::chrono::milliseconds;

namespace {

address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint16_t port) {
  return address::ipv4({a, b, c, d}, port);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

sigkit::stun::uri uri_of(const char* text) { return *sigkit::stun::parse_uri(text); }

std::vector<long> offsets(const retransmission_schedule& s) {
  std::vector<long> out;
  for (const auto& t : s.send_at_) out.push_back(static_cast<long>(t.count()));
  return out;
}

}  // namespace

TEST_CASE("the UDP retransmission schedule is RFC 8489's", "[probe][diagnosis]") {
  // RFC 8489 §6.2.1: "a request would be sent at times 0 ms, 500 ms, 1500 ms,
  // 3500 ms, 7500 ms, 15500 ms, and 31500 ms ... the client ... consider[s]
  // the transaction to have failed [at] 39500 ms".
  const auto full = make_schedule({}, milliseconds(60'000));
  CHECK(offsets(full) == std::vector<long>{0, 500, 1500, 3500, 7500, 15500, 31500});
  CHECK(full.give_up_at_ == milliseconds(39'500));

  // The run's deadline cuts it short.
  const auto capped = make_schedule({}, milliseconds(2000));
  CHECK(offsets(capped) == std::vector<long>{0, 500, 1500});
  CHECK(capped.give_up_at_ == milliseconds(2000));

  CHECK(make_schedule({}, milliseconds(0)).send_at_.empty());

  retransmission_policy fast;
  fast.rto_ = milliseconds(100);
  fast.max_sends_ = 3;
  fast.final_wait_rtos_ = 2;
  const auto s = make_schedule(fast, milliseconds(10'000));
  CHECK(offsets(s) == std::vector<long>{0, 100, 300});
  CHECK(s.give_up_at_ == milliseconds(500));
}

TEST_CASE("round trips are summarised with loss over transmissions", "[probe][diagnosis]") {
  const auto s = summarize_rtts(5, {1.0, 3.0, 2.0, 6.0});
  CHECK(s.sent_ == 5);
  CHECK(s.received_ == 4);
  CHECK(s.min_ms_ == 1.0);
  CHECK(s.max_ms_ == 6.0);
  CHECK(s.avg_ms_ == 3.0);
  CHECK(s.loss() == Approx(0.2));
  const auto none = summarize_rtts(3, {});
  CHECK(none.received_ == 0);
  CHECK(none.loss() == 1.0);
  CHECK(summarize_rtts(0, {}).loss() == 0.0);
}

TEST_CASE("a 401 after sending credentials gets a hint that fits the credentials", "[probe][diagnosis]") {
  hint_context c;
  c.stage_ = stage::allocate;
  c.kind_ = failure_kind::stun_error;
  c.code_ = 401;
  c.sent_credentials_ = true;
  c.realm_ = "example.org";
  c.uri_ = uri_of("turn:turn.example.org");
  c.now_unix_ = 1'800'000'000;

  c.credential_source_ = credential_source::long_term;
  c.username_ = "alice";
  auto h = hint_for(c);
  CHECK(contains(h, "wrong username or password"));
  CHECK(contains(h, "'example.org'"));

  // REST credentials pasted as a username: expired ...
  c.username_ = "1799999000:alice";
  h = hint_for(c);
  CHECK(contains(h, "expired 16 min ago"));
  c.username_ = "1799999960:alice";
  CHECK(contains(hint_for(c), "expired 40 s ago"));
  c.username_ = "1700000000:alice";
  CHECK(contains(hint_for(c), "expired 1157 days ago"));
  // ... in milliseconds ...
  c.username_ = "1800000000000:alice";
  CHECK(contains(hint_for(c), "looks like milliseconds"));
  // ... or valid, so the secret is wrong.
  c.username_ = "1800003600:alice";
  CHECK(contains(hint_for(c), "another secret"));

  c.credential_source_ = credential_source::rest_secret;
  CHECK(contains(hint_for(c), "static-auth-secret"));

  // Without credentials, a 401 lacking REALM/NONCE is the server's fault.
  c.sent_credentials_ = false;
  CHECK(contains(hint_for(c), "REALM and NONCE"));
}

TEST_CASE("hints for the usual failures", "[probe][diagnosis]") {
  hint_context c;
  c.uri_ = uri_of("stun:198.51.100.7:3478");

  c.stage_ = stage::binding;
  c.kind_ = failure_kind::timeout;
  CHECK(contains(hint_for(c), "UDP is blocked"));
  CHECK_FALSE(contains(hint_for(c), "--timeout"));
  c.cut_short_ = true;  // a short --timeout may be the reason
  CHECK(hint_for(c).rfind("--timeout left little time", 0) == 0);
  CHECK(contains(hint_for(c), "UDP is blocked"));
  c.cut_short_ = false;
  c.kind_ = failure_kind::refused;
  CHECK(contains(hint_for(c), "nothing listens on UDP 198.51.100.7:3478"));

  c.uri_ = uri_of("turn:198.51.100.7:3478?transport=tcp");
  c.stage_ = stage::connect;
  CHECK(contains(hint_for(c), "nothing accepts TCP connections on 198.51.100.7:3478"));
  c.kind_ = failure_kind::timeout;
  CHECK(contains(hint_for(c), "firewall"));
  c.stage_ = stage::binding;
  c.kind_ = failure_kind::wrong_protocol;
  c.detail_ = "the peer speaks TLS (a turns:/stuns: port?)";
  CHECK(contains(hint_for(c), "use stuns:/turns:"));

  c.stage_ = stage::allocate;
  c.kind_ = failure_kind::stun_error;
  for (const auto& [code, words] : std::vector<std::pair<int, const char*>>{
           {437, "already holds an allocation"}, {442, "no-udp-relay"}, {486, "quota"}, {508, "capacity"},
           {300, "ALTERNATE-SERVER"}}) {
    c.code_ = code;
    CHECK(contains(hint_for(c), words));
  }
  c.code_ = 599;
  CHECK(contains(hint_for(c), "599"));

  // 403 on CreatePermission: the server's peer policy, explained by the peer's scope.
  c.stage_ = stage::relay;
  c.code_ = 403;
  c.peer_ = v4(127, 0, 0, 1, 5000);
  auto h = hint_for(c);
  CHECK(contains(h, "peer policy"));
  CHECK(contains(h, "loopback"));
  CHECK(contains(h, "allow-loopback-peers"));
  c.peer_ = v4(192, 168, 1, 20, 5000);
  CHECK(contains(hint_for(c), "private"));

  c.stage_ = stage::tls;
  c.kind_ = failure_kind::certificate;
  c.uri_ = uri_of("turns:turn.example.org");
  c.certificate_ = certificate_problem::name_mismatch;
  CHECK(contains(hint_for(c), "not valid for 'turn.example.org'"));
  c.certificate_ = certificate_problem::expired;
  CHECK(contains(hint_for(c), "expired"));
  c.certificate_ = certificate_problem::unknown_issuer;
  CHECK(contains(hint_for(c), "intermediate"));

  c.kind_ = failure_kind::no_time_left;
  CHECK(contains(hint_for(c), "--timeout"));
}

TEST_CASE("a private relayed address from a public server is flagged", "[probe][diagnosis]") {
  const auto public_server = v4(203, 0, 114, 10, 3478);  // 203.0.114/24 is not documentation space
  CHECK(relayed_address_looks_unreachable(public_server, v4(10, 0, 0, 5, 50000)));
  CHECK(relayed_address_looks_unreachable(public_server, v4(172, 16, 3, 4, 50000)));
  CHECK_FALSE(relayed_address_looks_unreachable(public_server, v4(203, 0, 114, 10, 50000)));
  // A server on a private or loopback address relays on one too: nothing to flag.
  CHECK_FALSE(relayed_address_looks_unreachable(v4(10, 0, 0, 1, 3478), v4(10, 0, 0, 1, 50000)));
  CHECK_FALSE(relayed_address_looks_unreachable(v4(127, 0, 0, 1, 3478), v4(127, 0, 0, 1, 50000)));
}

TEST_CASE("NAT mapping and filtering per RFC 5780 §4.3 and §4.4", "[probe][diagnosis]") {
  const auto local = v4(192, 168, 1, 10, 40000);
  const auto m1 = v4(203, 0, 114, 5, 61000);
  nat_observations o;
  o.local_ = local;
  o.mapped_ = m1;
  o.other_address_ = v4(203, 0, 114, 99, 3479);
  CHECK(behind_nat(o) == true);
  CHECK(classify_mapping(o) == mapping_behavior::unknown);  // test II not run yet

  SECTION("endpoint-independent mapping, address-dependent filtering") {
    o.mapped_alt_ip_ = m1;
    o.answered_from_other_ip_port_ = false;
    o.answered_from_other_port_ = true;
    CHECK(classify_mapping(o) == mapping_behavior::endpoint_independent);
    CHECK(classify_filtering(o) == filtering_behavior::address_dependent);
    CHECK(nat_verdict(o).rfind("NAT, direct connections likely", 0) == 0);
  }
  SECTION("address-dependent mapping is symmetric") {
    o.mapped_alt_ip_ = v4(203, 0, 114, 5, 61001);
    o.mapped_alt_ip_port_ = v4(203, 0, 114, 5, 61001);
    CHECK(classify_mapping(o) == mapping_behavior::address_dependent);
    CHECK(nat_verdict(o).rfind("symmetric NAT: peers will need TURN", 0) == 0);
  }
  SECTION("address-and-port-dependent mapping and filtering") {
    o.mapped_alt_ip_ = v4(203, 0, 114, 5, 61001);
    o.mapped_alt_ip_port_ = v4(203, 0, 114, 5, 61002);
    o.answered_from_other_ip_port_ = false;
    o.answered_from_other_port_ = false;
    CHECK(classify_mapping(o) == mapping_behavior::address_and_port_dependent);
    CHECK(classify_filtering(o) == filtering_behavior::address_and_port_dependent);
    CHECK(nat_verdict(o).rfind("symmetric NAT", 0) == 0);
  }
  SECTION("hairpinning") {
    CHECK(classify_hairpinning(o) == hairpinning::not_tested);
    o.hairpin_received_ = true;
    CHECK(classify_hairpinning(o) == hairpinning::supported);
    o.hairpin_received_ = false;
    CHECK(classify_hairpinning(o) == hairpinning::not_supported);
  }
}

TEST_CASE("no NAT, with and without a filtering firewall", "[probe][diagnosis]") {
  nat_observations o;
  o.local_ = v4(127, 0, 0, 1, 40000);
  o.mapped_ = o.local_;
  o.other_address_ = v4(127, 0, 0, 2, 3479);
  o.mapped_alt_ip_ = o.local_;
  o.answered_from_other_ip_port_ = true;
  CHECK(behind_nat(o) == false);
  CHECK(classify_mapping(o) == mapping_behavior::endpoint_independent);
  CHECK(classify_filtering(o) == filtering_behavior::endpoint_independent);
  CHECK(nat_verdict(o).rfind("no NAT", 0) == 0);
  CHECK(contains(nat_verdict(o), "direct connections likely"));

  o.answered_from_other_ip_port_ = false;
  o.answered_from_other_port_ = false;
  CHECK(contains(nat_verdict(o), "firewall"));

  nat_observations nothing;
  CHECK_FALSE(behind_nat(nothing).has_value());
  CHECK(contains(nat_verdict(nothing), "unknown"));
  CHECK_FALSE(rfc5780_unsupported(nothing).has_value());  // no answer at all is a failure, not a limit
  nothing.local_ = o.local_;
  nothing.mapped_ = v4(203, 0, 114, 5, 1);
  CHECK(contains(nat_verdict(nothing), "does not support RFC 5780"));
}

TEST_CASE("a server without RFC 5780 makes the NAT verdict 'cannot tell', not a failure", "[probe][diagnosis]") {
  nat_observations o;
  o.local_ = v4(127, 0, 0, 1, 40000);
  o.server_ = v4(127, 0, 0, 1, 3478);
  o.mapped_ = o.local_;

  // RFC 5780 §7.4: no OTHER-ADDRESS at all.
  const auto why = rfc5780_unsupported(o);
  REQUIRE(why.has_value());
  CHECK(contains(*why, "no OTHER-ADDRESS"));
  const auto verdict = nat_verdict(o);
  CHECK(verdict.rfind("cannot tell", 0) == 0);
  CHECK(contains(verdict, "no OTHER-ADDRESS"));
  // Test I still shows there is no NAT; the verdict says so without a judgement.
  CHECK(contains(verdict, "no NAT between this host and the server"));
  CHECK_FALSE(contains(verdict, "direct connections likely"));
  CHECK(contains(rfc5780_hint(), "listening-ip"));

  // Behind a NAT, it says that much.
  o.mapped_ = v4(203, 0, 114, 5, 61000);
  CHECK(contains(nat_verdict(o), "behind a NAT"));

  // An OTHER-ADDRESS on the server's own IP cannot serve the tests either.
  o.other_address_ = v4(127, 0, 0, 1, 3479);
  REQUIRE(rfc5780_unsupported(o).has_value());
  CHECK(contains(*rfc5780_unsupported(o), "own IP"));

  // A second IP: supported, and the usual classification applies.
  o.other_address_ = v4(127, 0, 0, 2, 3479);
  CHECK_FALSE(rfc5780_unsupported(o).has_value());
  CHECK_FALSE(contains(nat_verdict(o), "cannot tell"));
}

TEST_CASE("UDP timing out where TCP to the same host works means UDP is blocked", "[probe][diagnosis]") {
  report r;
  server_report udp;
  udp.uri_ = "turn:turn.example.org";
  udp.parsed_ = uri_of("turn:turn.example.org");
  check udp_binding;
  udp_binding.stage_ = stage::binding;
  udp_binding.error_ = failure{failure_kind::timeout, 0, "no response", "old hint"};
  udp.checks_.push_back(udp_binding);

  server_report tcp;
  tcp.uri_ = "turn:turn.example.org?transport=tcp";
  tcp.parsed_ = uri_of("turn:turn.example.org?transport=tcp");
  check tcp_binding;
  tcp_binding.stage_ = stage::binding;
  tcp_binding.ok_ = true;
  tcp.checks_.push_back(tcp_binding);

  r.servers_ = {udp, tcp};
  add_cross_server_hints(r);
  const auto& hint = r.servers_[0].checks_[0].error_->hint_;
  CHECK(hint.rfind("UDP is blocked on this network", 0) == 0);
  CHECK(contains(hint, "turn:turn.example.org?transport=tcp"));
  CHECK(exit_code(r) == 1);

  // A TCP server elsewhere says nothing about this path.
  r.servers_[1].parsed_.host_ = "other.example.org";
  r.servers_[0].checks_[0].error_->hint_ = "old hint";
  add_cross_server_hints(r);
  CHECK(r.servers_[0].checks_[0].error_->hint_ == "old hint");
}

TEST_CASE("the exit code is 0 only when every stage passed and --nat did not fail", "[probe][diagnosis]") {
  report r;
  CHECK(exit_code(r) == 0);
  server_report s;
  check c;
  c.ok_ = true;
  s.checks_.push_back(c);
  r.servers_.push_back(s);
  CHECK(exit_code(r) == 0);
  r.nat_.emplace();
  CHECK(exit_code(r) == 1);  // failed until it says otherwise
  r.nat_->status_ = nat_status::determined;
  CHECK(exit_code(r) == 0);
  // A server without RFC 5780 is no failure: the servers' stages decide.
  r.nat_->status_ = nat_status::cannot_tell;
  CHECK(exit_code(r) == 0);
  r.servers_[0].checks_.push_back(check{});
  CHECK(exit_code(r) == 1);
  r.servers_[0].checks_.pop_back();

  // --from-sigserve: a failed fetch fails the run, with or without servers.
  r.signaling_.emplace();
  r.signaling_->ok_ = true;
  CHECK(exit_code(r) == 0);
  r.signaling_->ok_ = false;
  CHECK(exit_code(r) == 1);
  const auto servers = r.servers_;
  r.servers_.clear();
  CHECK(exit_code(r) == 1);
  r.signaling_.reset();
  r.servers_ = servers;
  CHECK(exit_code(r) == 0);

  // A server with no checks at all did not pass.
  r.servers_ = {server_report{}};
  CHECK(exit_code(r) == 1);
}

TEST_CASE("REST credentials a signaling server minted get a hint about its secret", "[probe][diagnosis]") {
  hint_context c;
  c.stage_ = stage::allocate;
  c.kind_ = failure_kind::stun_error;
  c.code_ = 401;
  c.uri_ = uri_of("turn:turn.example.org");
  c.sent_credentials_ = true;
  c.realm_ = "example.org";
  c.now_unix_ = 1'700'000'000;
  c.credential_source_ = credential_source::signaling;
  c.username_ = "1700003600:Zq3k9TfA2mXw";
  const auto hint = hint_for(c);
  CHECK(contains(hint, "signaling server"));
  CHECK(contains(hint, "--turn-secret"));
  CHECK(contains(hint, "static-auth-secret"));
  CHECK(contains(hint, "1700003600:Zq3k9TfA2mXw"));

  // Expired is still expired, whoever minted them.
  c.username_ = "1699990000:Zq3k9TfA2mXw";
  CHECK(contains(hint_for(c), "expired"));

  // Not REST-shaped: the two servers disagree on users.
  c.username_ = "alice";
  CHECK(contains(hint_for(c), "welcome handed out"));
}

TEST_CASE("TLS that cannot be set up says why, and that nothing was tested", "[probe][diagnosis]") {
  hint_context c;
  c.stage_ = stage::tls;
  c.kind_ = failure_kind::tls_setup;
  c.uri_ = uri_of("turns:turn.example.org");
  c.detail_ = "cannot load trusted certificates from /tmp/x.pem: no certificate or crl found";
  CHECK(contains(hint_for(c), "--ca-file must be a PEM file"));
  c.detail_ = "OpenSSL cannot take 'turn.example.org' as the name to verify";
  const auto name = hint_for(c);
  CHECK(contains(name, "'turn.example.org'"));
  CHECK(contains(name, "no handshake was tried"));
}

TEST_CASE("a failed signaling stage gets a hint for what went wrong", "[probe][diagnosis]") {
  const auto hint = [](failure_kind kind, int code = 0, std::string reason = {}) {
    return signaling_hint(failure{kind, code, std::move(reason), ""}, "ws://sig.example.org:8080/ws");
  };
  CHECK(contains(hint(failure_kind::refused), "nothing accepts TCP connections on sig.example.org:8080"));
  CHECK(contains(hint(failure_kind::refused), "--port"));
  CHECK(contains(hint(failure_kind::name_not_found), "'sig.example.org' has no A or AAAA record"));
  CHECK(contains(hint(failure_kind::timeout, 0, "no welcome after the WebSocket upgrade"), "no welcome"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 401), "token"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 403), "--origin"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 404), "/ws"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 503), "try again later"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 200), "without upgrading"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 302), "redirect"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 500), "not a signaling server"));
  CHECK(contains(hint(failure_kind::upgrade_refused, 418), "HTTP 418"));
  CHECK(contains(hint(failure_kind::wrong_protocol, 0, "the first message is a 'pong', not a welcome"),
                 "'pong', not a welcome"));
  CHECK(contains(hint(failure_kind::no_ice_servers), "--stun-uri"));
  CHECK(contains(hint(failure_kind::no_ice_servers), "--turn-uri"));
  CHECK(contains(hint(failure_kind::bad_response, 0, "ice_servers[0]: missing \"urls\""), "missing \"urls\""));
  CHECK(contains(hint(failure_kind::connection_lost), "before its welcome"));

  // The port a hint names is the URL's, or the default one.
  CHECK(contains(signaling_hint(failure{failure_kind::refused, 0, "", ""}, "ws://sig.example.org/ws"),
                 "sig.example.org:80:"));
  CHECK(contains(signaling_hint(failure{failure_kind::refused, 0, "", ""}, "ws://[::1]:9/ws"), "[::1]:9:"));
  CHECK(contains(signaling_hint(failure{failure_kind::refused, 0, "", ""}, "ws://[::1]/ws"), "[::1]:80:"));
}
