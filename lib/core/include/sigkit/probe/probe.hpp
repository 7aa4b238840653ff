// sigprobe's vocabulary: is a STUN/TURN server reachable, does it relay, and
// what is the NAT in front of us doing?
//
// For each server a ladder of stages runs, each reported with a verdict:
//
//   dns -> connect (TCP/TLS) -> tls (TLS) -> binding -> allocate -> relay -> refresh
//                                                        \______ turn: and turns: only ______/
//
// The ladder stops at the first stage that leaves nothing to build on (no
// address, no connection, no allocation). Several servers are probed at
// once on one Asio thread, so a run takes about as long as its slowest
// server; one deadline (options::timeout_) bounds everything, including
// fetching the list of servers from a signaling server (--from-sigserve:
// the `ice_servers` of its welcome, protocol 1.1).
//
// The decisions (hints, NAT classification, verdicts) are pure functions in
// diagnosis.hpp; rendering is in output.hpp; turning a command
// line or an RTCIceServer list into targets is in targets.hpp; the engine
// that runs the ladder over real sockets is sigkit/probe_engine/engine.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sigkit/stun/message.hpp"
#include "sigkit/stun/address.hpp"
#include "sigkit/stun/uri.hpp"

namespace sigkit::probe {

// Where a TURN credential came from: the hints for a 401 differ.
enum class credential_source {
  none,
  long_term,    // a username and password (RFC 8489 §9.2), possibly REST-shaped
  rest_secret,  // derived here from a shared secret (coturn use-auth-secret)
  signaling,    // long-term credentials a signaling server minted for its welcome (TURN REST)
};

struct credentials {
  std::string username_;
  std::string password_;
  credential_source source_ = credential_source::none;
};

// One entry of RTCConfiguration.iceServers (W3C webrtc-pc §4.2.2):
//   { "urls": "turn:host" | ["stun:host", ...], "username": "...", "credential": "..." }
struct ice_server {
  std::vector<std::string> urls_;
  std::optional<std::string> username_;
  std::optional<std::string> credential_;
  // What its own username/credential count as: long-term credentials either
  // way (RFC 8489 §9.2); only the hints for a 401 tell the sources apart.
  credential_source source_ = credential_source::long_term;
};

// One server to probe: the URI as the user wrote it, parsed, and the
// credentials for TURN.
struct target {
  std::string text_;
  stun::uri uri_;
  credentials credentials_;
};

struct options {
  // Binding requests per server, and packets sent through the relay.
  unsigned count_ = 5;
  // The whole run, every server and --nat together.
  std::chrono::milliseconds timeout_{10'000};
  // RFC 5780 NAT behaviour discovery against the first UDP server.
  bool nat_ = false;
  // TLS: finish the handshake whatever the certificate, but still report
  // what verification found.
  bool insecure_ = false;
  // PEM file of trusted CAs instead of the system store.
  std::string ca_file_;
  // SOFTWARE attribute (RFC 8489 §14.14): lets a server operator find the
  // probe in the logs.
  std::string software_ = "sigprobe";
};

enum class stage { dns, connect, tls, binding, allocate, relay, refresh };
// "dns", "connect", ...: the check names in the JSON report.
std::string_view to_string(stage s) noexcept;

// What kind of failure a stage met; the hint is chosen from it.
enum class failure_kind {
  stun_error,       // the server answered with an error response (code_ is set)
  timeout,          // no answer before the retransmissions or the deadline ran out
  refused,          // TCP RST, or ICMP port unreachable on a connected UDP socket
  unreachable,      // no route to the network or host
  connection_lost,  // the server closed or reset the connection mid-exchange
  name_not_found,   // DNS has no such name
  dns_failure,      // DNS failed otherwise (server failure, no network)
  tls_handshake,    // the TLS handshake failed
  certificate,      // the certificate chain or name did not verify
  wrong_protocol,   // the port answers TLS, HTTP or garbage instead of STUN
  bad_response,     // a STUN response without what it must carry
  integrity,        // a response failed MESSAGE-INTEGRITY or FINGERPRINT
  credentials,      // the password cannot be prepared (SASLprep) into a key
  redirect_loop,    // ALTERNATE-SERVER a second time
  tls_setup,        // TLS could not be prepared here (CA file, the name to verify): no handshake tried
  upgrade_refused,  // signaling: the WebSocket upgrade got HTTP code_ instead of 101
  no_ice_servers,   // signaling: the welcome lists no ICE servers
  no_time_left,     // the run's deadline passed before the stage could start
  internal,         // a bug in the probe; reported rather than crashing
};
std::string_view to_string(failure_kind k) noexcept;

struct failure {
  failure_kind kind_ = failure_kind::internal;
  int code_ = 0;        // the STUN error code for stun_error, the HTTP status for upgrade_refused, else 0
  std::string reason_;  // the server's reason phrase, or what the system said
  std::string hint_;    // what it probably means, in plain words
};

// Round trips of a series of requests or packets.
struct rtt_summary {
  unsigned sent_ = 0;      // transmissions, retransmissions included
  unsigned received_ = 0;  // answers
  double min_ms_ = 0;
  double avg_ms_ = 0;
  double max_ms_ = 0;
  // Share of transmissions that got no answer, 0..1.
  double loss() const noexcept { return sent_ == 0 ? 0.0 : 1.0 - static_cast<double>(received_) / sent_; }
};

struct address_attempt {
  stun::address address_;
  std::string outcome_;  // "ok", "connection refused", "timeout", ...
};

struct dns_facts {
  bool literal_ = false;  // the URI held an IP address: no lookup
  std::vector<stun::address> ipv4_;  // A records (port = the URI's)
  std::vector<stun::address> ipv6_;  // AAAA records
  // In the order the system sorted them (RFC 6724), until one worked.
  std::vector<address_attempt> tried_;
};

struct connect_facts {
  stun::address remote_;
  stun::address local_;
};

struct tls_facts {
  std::string sni_;  // empty for an IP literal (RFC 6066 §3 forbids IPs in SNI)
  std::string version_;
  std::string cipher_;
  std::string subject_;
  std::string issuer_;
  std::string not_after_;  // "2027-01-31" (UTC)
  std::optional<long> days_left_;
  bool verified_ = false;
  std::string verify_error_;  // what verification found, even with --insecure
};

struct binding_facts {
  stun::address server_;
  std::optional<stun::address> mapped_;
  std::optional<stun::address> other_address_;    // RFC 5780 §7.4
  std::optional<stun::address> response_origin_;  // RFC 5780 §7.3
  std::string software_;
  rtt_summary rtt_;
};

struct allocate_facts {
  std::optional<stun::address> relayed_;
  std::optional<stun::address> mapped_;
  std::uint32_t lifetime_s_ = 0;
  std::string realm_;
  bool stale_nonce_retried_ = false;
  std::optional<stun::address> redirected_to_;  // ALTERNATE-SERVER followed
};

struct relay_facts {
  std::optional<stun::address> peer_;  // the second local socket, as the relay sees it
  std::uint16_t channel_ = 0;
  rtt_summary rtt_;
};

using check_facts =
    std::variant<std::monostate, dns_facts, connect_facts, tls_facts, binding_facts, allocate_facts, relay_facts>;

struct check {
  stage stage_ = stage::dns;
  bool ok_ = false;
  double ms_ = 0;
  std::optional<failure> error_;
  std::vector<std::string> warnings_;  // passed, but something deserves a look
  check_facts facts_;
};

struct server_report {
  std::string uri_;  // as given
  stun::uri parsed_;
  double ms_ = 0;
  std::vector<check> checks_;
  // Every stage that ran passed, and the ladder was not cut short.
  bool ok() const noexcept;
  const check* find(stage s) const noexcept;
};

// RFC 5780 §4.3.
enum class mapping_behavior { unknown, endpoint_independent, address_dependent, address_and_port_dependent };
// RFC 5780 §4.4.
enum class filtering_behavior { unknown, endpoint_independent, address_dependent, address_and_port_dependent };
enum class hairpinning { not_tested, supported, not_supported };
std::string_view to_string(mapping_behavior b) noexcept;
std::string_view to_string(filtering_behavior b) noexcept;
std::string_view to_string(hairpinning h) noexcept;

// What the RFC 5780 tests saw; classification works on this alone.
struct nat_observations {
  std::optional<stun::address> local_;          // our socket's address
  std::optional<stun::address> server_;         // the primary address (test I)
  std::optional<stun::address> mapped_;         // test I: XOR-MAPPED-ADDRESS from the primary address
  std::optional<stun::address> other_address_;  // OTHER-ADDRESS from test I
  std::optional<stun::address> mapped_alt_ip_;  // mapping test II: alternate IP, primary port
  std::optional<stun::address> mapped_alt_ip_port_;  // mapping test III: alternate IP and port
  // Filtering tests II and III: did a response come back when the server
  // answered from another IP and port / from another port only?
  std::optional<bool> answered_from_other_ip_port_;
  std::optional<bool> answered_from_other_port_;
  // RFC 5780 §4.5: a Binding request sent to our own mapped address came back.
  std::optional<bool> hairpin_received_;
};

// How --nat ended. A server without RFC 5780 support cannot tell mapping
// from filtering: that is no fault of the servers or the network, so it is
// neutral, and the exit code follows the servers' stages.
enum class nat_status {
  determined,   // a verdict from the RFC 5780 tests
  cannot_tell,  // the server does not support RFC 5780 (no usable OTHER-ADDRESS)
  failed,       // no UDP server, no answer, or the alternate address stayed silent
};
std::string_view to_string(nat_status s) noexcept;

struct nat_report {
  nat_status status_ = nat_status::failed;
  std::string server_;  // the URI used
  double ms_ = 0;
  std::optional<failure> error_;  // failed: why
  // cannot_tell: why not (RFC 5780 §7.4) and what would make it possible.
  std::string reason_;
  std::string hint_;
  nat_observations observed_;
  std::optional<bool> behind_nat_;
  mapping_behavior mapping_ = mapping_behavior::unknown;
  filtering_behavior filtering_ = filtering_behavior::unknown;
  hairpinning hairpinning_ = hairpinning::not_tested;
  std::string verdict_;
  // Only a failed NAT check fails the run.
  bool ok() const noexcept { return status_ != nat_status::failed; }
};

// What a signaling server's welcome said (protocol 1.1).
struct welcome_facts {
  std::string server_;  // "sigserve/0.1.0"
  std::string peer_;    // this connection's peer id: the user part of minted TURN REST usernames
  int protocol_ = 0;
  std::vector<std::string> features_;
  std::vector<ice_server> ice_servers_;  // as listed; reports never print a credential
};

// --from-sigserve: connecting to the signaling server and reading the ICE
// servers from its welcome, a stage of its own before the servers' ladders.
struct signaling_report {
  std::string url_;  // ws://host:port/path, as given
  bool ok_ = false;
  double ms_ = 0;
  std::optional<failure> error_;
  std::optional<welcome_facts> welcome_;  // when a welcome arrived
};

struct report {
  std::optional<signaling_report> signaling_;
  std::vector<server_report> servers_;
  std::optional<nat_report> nat_;
  double ms_ = 0;
  bool ok() const noexcept;
};

}  // namespace sigkit::probe
