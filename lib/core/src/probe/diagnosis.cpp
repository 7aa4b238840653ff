// sigprobe's decisions: retransmission schedule, hints, NAT classification
// and verdicts. Pure functions of what was observed; the engine in
// probe_engine.cpp gathers the observations.
#include "sigkit/probe/diagnosis.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "sigkit/stun/credentials.hpp"

namespace sigkit::probe {

std::string_view to_string(stage s) noexcept {
  switch (s) {
    case stage::dns: return "dns";
    case stage::connect: return "connect";
    case stage::tls: return "tls";
    case stage::binding: return "binding";
    case stage::allocate: return "allocate";
    case stage::relay: return "relay";
    case stage::refresh: return "refresh";
  }
  return "?";
}

std::string_view to_string(failure_kind k) noexcept {
  switch (k) {
    case failure_kind::stun_error: return "stun_error";
    case failure_kind::timeout: return "timeout";
    case failure_kind::refused: return "refused";
    case failure_kind::unreachable: return "unreachable";
    case failure_kind::connection_lost: return "connection_lost";
    case failure_kind::name_not_found: return "name_not_found";
    case failure_kind::dns_failure: return "dns_failure";
    case failure_kind::tls_handshake: return "tls_handshake";
    case failure_kind::certificate: return "certificate";
    case failure_kind::wrong_protocol: return "wrong_protocol";
    case failure_kind::bad_response: return "bad_response";
    case failure_kind::integrity: return "integrity";
    case failure_kind::credentials: return "credentials";
    case failure_kind::redirect_loop: return "redirect_loop";
    case failure_kind::tls_setup: return "tls_setup";
    case failure_kind::upgrade_refused: return "upgrade_refused";
    case failure_kind::no_ice_servers: return "no_ice_servers";
    case failure_kind::no_time_left: return "no_time_left";
    case failure_kind::internal: return "internal";
  }
  return "?";
}

std::string_view to_string(mapping_behavior b) noexcept {
  switch (b) {
    case mapping_behavior::unknown: return "unknown";
    case mapping_behavior::endpoint_independent: return "endpoint-independent";
    case mapping_behavior::address_dependent: return "address-dependent";
    case mapping_behavior::address_and_port_dependent: return "address-and-port-dependent";
  }
  return "?";
}

std::string_view to_string(filtering_behavior b) noexcept {
  switch (b) {
    case filtering_behavior::unknown: return "unknown";
    case filtering_behavior::endpoint_independent: return "endpoint-independent";
    case filtering_behavior::address_dependent: return "address-dependent";
    case filtering_behavior::address_and_port_dependent: return "address-and-port-dependent";
  }
  return "?";
}

std::string_view to_string(hairpinning h) noexcept {
  switch (h) {
    case hairpinning::not_tested: return "not tested";
    case hairpinning::supported: return "supported";
    case hairpinning::not_supported: return "not supported";
  }
  return "?";
}

std::string_view to_string(nat_status s) noexcept {
  switch (s) {
    case nat_status::determined: return "determined";
    case nat_status::cannot_tell: return "cannot tell";
    case nat_status::failed: return "failed";
  }
  return "?";
}

bool server_report::ok() const noexcept {
  return !checks_.empty() && std::all_of(checks_.begin(), checks_.end(), [](const check& c) { return c.ok_; });
}

const check* server_report::find(stage s) const noexcept {
  const auto it = std::find_if(checks_.begin(), checks_.end(), [s](const check& c) { return c.stage_ == s; });
  return it == checks_.end() ? nullptr : &*it;
}

bool report::ok() const noexcept {
  return (!signaling_ || signaling_->ok_) &&
         std::all_of(servers_.begin(), servers_.end(), [](const server_report& s) { return s.ok(); }) &&
         (!nat_ || nat_->ok());
}

int exit_code(const report& r) noexcept { return r.ok() ? 0 : 1; }

// --- retransmission ------------------------------------------------------------------

retransmission_schedule make_schedule(const retransmission_policy& p, std::chrono::milliseconds budget) {
  retransmission_schedule s;
  if (budget <= std::chrono::milliseconds::zero() || p.max_sends_ == 0) return s;
  // RFC 8489 §6.2.1: the interval doubles after every send.
  std::chrono::milliseconds at{0};
  std::chrono::milliseconds wait = p.rto_;
  for (unsigned i = 0; i < p.max_sends_; ++i) {
    if (at >= budget) break;
    s.send_at_.push_back(at);
    if (i + 1 < p.max_sends_) {
      at += wait;
      wait *= 2;
    }
  }
  // "... the client SHOULD wait Rm times the RTO after the last request".
  s.give_up_at_ = std::min(s.send_at_.back() + p.rto_ * p.final_wait_rtos_, budget);
  return s;
}

rtt_summary summarize_rtts(unsigned transmissions, const std::vector<double>& rtts_ms) {
  rtt_summary s;
  s.sent_ = transmissions;
  s.received_ = static_cast<unsigned>(rtts_ms.size());
  if (rtts_ms.empty()) return s;
  s.min_ms_ = *std::min_element(rtts_ms.begin(), rtts_ms.end());
  s.max_ms_ = *std::max_element(rtts_ms.begin(), rtts_ms.end());
  s.avg_ms_ = std::accumulate(rtts_ms.begin(), rtts_ms.end(), 0.0) / static_cast<double>(rtts_ms.size());
  return s;
}

// --- hints ----------------------------------------------------------------------------

namespace {

std::string host_port(const stun::uri& u) {
  const std::string host = u.host_kind_ == stun::host_kind::ipv6 ? "[" + u.host_ + "]" : u.host_;
  return host + ":" + std::to_string(u.port_);
}

std::string transport_name(const stun::uri& u) {
  if (u.secure()) return "TLS";
  return u.transport_ == stun::uri_transport::udp ? "UDP" : "TCP";
}

// "40 s", "16 min", "5 h", "1104 days": how long ago something expired.
std::string age_text(std::int64_t seconds) {
  if (seconds < 120) return std::to_string(seconds) + " s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + " min";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + " h";
  return std::to_string(seconds / 86400) + " days";
}

std::string generic_stun_error(int code) {
  return "the server answered " + std::to_string(code) + " " + std::string(stun::reason_phrase(code)) +
         " and gave no more detail";
}

// RFC 8489 §9.2.4: a 401 to a request that carried MESSAGE-INTEGRITY means
// the key was wrong. Which key, and why, depends on where it came from.
std::string unauthenticated_hint(const hint_context& c) {
  const auto rest = stun::parse_turn_rest_username(c.username_);
  const bool rest_shaped = rest.has_value() && (c.credential_source_ == credential_source::rest_secret ||
                                                c.username_.find(':') != std::string::npos ||
                                                rest->expires_at_ > 1'000'000'000);
  if (rest_shaped) {
    const auto expiry = std::to_string(rest->expires_at_);
    if (stun::expiry_looks_like_milliseconds(rest->expires_at_))
      return "the TURN REST username's expiry " + expiry +
             " looks like milliseconds: it must be Unix time in seconds (coturn compares it with seconds), "
             "so fix the code that mints the credentials";
    if (rest->expires_at_ < c.now_unix_)
      return "these TURN REST credentials expired " + age_text(c.now_unix_ - rest->expires_at_) +
             " ago (username expiry " + expiry +
             "): the app must hand out fresh ones, or the server's clock is wrong";
    if (c.credential_source_ == credential_source::rest_secret)
      return "the server rejected credentials made from --secret: the secret differs from coturn's "
             "static-auth-secret, or the server does not use use-auth-secret, or its realm is not '" +
             c.realm_ + "'";
    if (c.credential_source_ == credential_source::signaling)
      return "the TURN REST credentials the signaling server minted (username " + c.username_ +
             ") have not expired, so their password does not match: the signaling server's secret (sigserve "
             "--turn-secret) differs from this TURN server's static-auth-secret, or the TURN server does not "
             "run with use-auth-secret";
    return "the TURN REST credentials have not expired, so the password does not match: it was made with "
           "another secret than the server's static-auth-secret";
  }
  if (c.credential_source_ == credential_source::signaling)
    return "the TURN server (realm '" + c.realm_ + "') did not accept the username and password the signaling "
           "server's welcome handed out: the two servers are not configured for the same users or secret";
  return "wrong username or password: the server (realm '" + c.realm_ +
         "') did not accept them. Check the user exists in that realm (coturn: user=name:password, or turnadmin) "
         "and that the password is the plain one, not its key hash";
}

std::string certificate_hint(const hint_context& c) {
  const std::string escape = " (--ca-file for a private CA, --insecure to probe past it)";
  switch (c.certificate_) {
    case certificate_problem::expired:
      return "the server's certificate has expired: browsers will refuse this server until it is renewed "
             "(coturn reads cert= and pkey= only at start, so restart it after renewing)";
    case certificate_problem::not_yet_valid:
      return "the server's certificate is not valid yet: a clock is wrong, here or where it was issued";
    case certificate_problem::self_signed:
      return "the server's certificate is self-signed: browsers will refuse it" + escape;
    case certificate_problem::unknown_issuer:
      return "the certificate's issuer is not trusted here: a missing intermediate certificate in the server's "
             "chain (coturn's cert= file should hold the full chain), or a private CA" + escape;
    case certificate_problem::name_mismatch:
      return "the certificate is not valid for '" + c.uri_.host_ +
             "': clients connecting by this name will refuse it (check its subjectAltName)";
    case certificate_problem::none:
    case certificate_problem::other: break;
  }
  return "the certificate did not verify (" + c.detail_ + ")" + escape;
}

std::string peer_policy_hint(const hint_context& c) {
  if (c.peer_ && !stun::is_global(*c.peer_))
    return "the server's peer policy forbids relaying to " + c.peer_->ip_string() + " (" +
           std::string(stun::to_string(stun::scope_of(*c.peer_))) +
           "): coturn denies loopback and private peers unless allow-loopback-peers or allowed-peer-ip "
           "says otherwise. Peers on the Internet are probably fine";
  return "the server's peer policy forbids relaying to this peer (coturn: denied-peer-ip, or no-multicast-peers)";
}

}  // namespace

namespace {
std::string hint_for_kind(const hint_context& c);
}  // namespace

std::string hint_for(const hint_context& c) {
  const auto base = hint_for_kind(c);
  if (c.kind_ != failure_kind::timeout || !c.cut_short_) return base;
  // RFC 8489 would have waited 39.5 s: the probe gave up early, not the protocol.
  return "--timeout left little time to wait for an answer; a slow server or path needs more. If it stays "
         "silent: " + base;
}

namespace {

std::string hint_for_kind(const hint_context& c) {
  const std::string where = host_port(c.uri_);
  const std::string tp = transport_name(c.uri_);
  const bool udp = !c.uri_.secure() && c.uri_.transport_ == stun::uri_transport::udp;

  switch (c.kind_) {
    case failure_kind::no_time_left:
      return "the --timeout ran out before this stage could run: give the probe more time";
    case failure_kind::internal:
      return "this is a bug in sigprobe, not a problem with the server; please report it";
    case failure_kind::name_not_found:
      return "'" + c.uri_.host_ + "' has no A or AAAA record: check the spelling and the server's DNS records";
    case failure_kind::dns_failure:
      return "the DNS lookup failed: is this machine online and its resolver working?";
    case failure_kind::unreachable:
      return "no route to " + where + ": check this machine's network (an IPv6 address without IPv6 connectivity?)";
    case failure_kind::credentials:
      return "the password cannot be turned into a key (" + c.detail_ + "; RFC 4013 SASLprep)";
    case failure_kind::redirect_loop:
      return "the server redirected with ALTERNATE-SERVER again after one redirect had been followed: "
             "a redirect loop between servers (coturn alternate-server)";
    case failure_kind::certificate: return certificate_hint(c);
    case failure_kind::tls_setup:
      // The engine's own words for the two causes: the CA store, or the name to check.
      if (c.detail_.find("trusted certificates") != std::string::npos)
        return "sigprobe could not load the certificates to trust (" + c.detail_ +
               "), so no handshake was tried: --ca-file must be a PEM file of CA certificates";
      return "sigprobe could not set up the certificate check for '" + c.uri_.host_ + "' (" + c.detail_ +
             "), so no handshake was tried rather than one whose name goes unchecked";
    case failure_kind::tls_handshake:
      return "the TLS handshake failed: the port may not speak TLS (a plain stun:/turn: port?), or the server's "
             "TLS setup is broken (coturn: cert=, pkey=, cipher-list)";
    case failure_kind::wrong_protocol:
      if (c.detail_.find("TLS") != std::string::npos)
        return "the port speaks TLS: use stuns:/turns: for it (" + c.detail_ + ")";
      return "the port does not speak STUN (" + c.detail_ + "): check the port";
    default: break;
  }

  switch (c.stage_) {
    case stage::dns: break;
    case stage::connect:
      if (c.kind_ == failure_kind::refused)
        return "nothing accepts TCP connections on " + where +
               ": the server is down, listens on another port, or has TCP disabled (coturn: no-tcp, no-tls)";
      if (c.kind_ == failure_kind::timeout)
        return "the TCP handshake to " + where +
               " got no answer: a firewall drops it (on this network or in front of the server), or the host is down";
      break;
    case stage::tls:
      if (c.kind_ == failure_kind::connection_lost || c.kind_ == failure_kind::timeout)
        return "the server accepted TCP but did not complete a TLS handshake: the port may not speak TLS "
               "(a plain stun:/turn: port?)";
      break;
    case stage::binding:
      if (c.kind_ == failure_kind::refused)
        return "ICMP port unreachable: nothing listens on UDP " + where +
               " (the server is down, the port is wrong, or coturn runs with no-udp)";
      if (c.kind_ == failure_kind::timeout && udp)
        return "no response over UDP from " + where +
               ": UDP is blocked by a firewall on this network or in front of the server, or the server is down; "
               "probing the same server with ?transport=tcp or turns: tells them apart";
      if (c.kind_ == failure_kind::timeout)
        return "connected over " + tp + ", but no answer to a Binding request: the port may not be a STUN server";
      if (c.kind_ == failure_kind::connection_lost)
        return "the server closed the connection without answering: the port may speak another protocol";
      if (c.kind_ == failure_kind::bad_response)
        return "the answer carried no mapped address: not a STUN server, or a broken one";
      if (c.kind_ == failure_kind::integrity)
        return "a response failed its FINGERPRINT check: something on the path altered it";
      if (c.kind_ == failure_kind::stun_error && c.code_ == 420)
        return "the server does not understand an attribute of the request (" + c.detail_ + ")";
      break;
    case stage::allocate:
      if (c.kind_ == failure_kind::timeout)
        return "no answer to Allocate: the server may be STUN-only (coturn: stun-only) or drop TURN requests";
      if (c.kind_ == failure_kind::connection_lost)
        return "the server closed the connection instead of answering Allocate";
      if (c.kind_ == failure_kind::integrity)
        return "the Allocate response fails MESSAGE-INTEGRITY with our key: the server derives the key another way "
               "(password preparation?), or something on the path altered the response";
      if (c.kind_ == failure_kind::bad_response)
        return c.detail_.empty() ? "the server's answer to Allocate lacks what RFC 8656 requires" : c.detail_;
      if (c.kind_ != failure_kind::stun_error) break;
      switch (c.code_) {
        case 401:
          if (c.sent_credentials_) return unauthenticated_hint(c);
          return "the server refused the request without asking for credentials the usual way (REALM and NONCE)";
        case 438:
          return "the server rejected a fresh nonce again: its nonce handling or clock is broken";
        case 437:
          return "the server already holds an allocation for this source address and port: wait for it to expire";
        case 441:
          return "the username does not match the one that created the allocation (RFC 8656 §7.2)";
        case 442:
          return "the server does not relay UDP (coturn: no-udp-relay)";
        case 486:
          return "this user's allocation quota is reached (coturn: user-quota, total-quota): clients may be leaking "
                 "allocations";
        case 508:
          return "the server has no relay capacity left (coturn: the min-port..max-port range is exhausted, or "
                 "total-quota)";
        case 403:
          return "the server forbids allocations for this user or address (coturn: denied-peer-ip, a user policy, or "
                 "secure-stun)";
        case 420:
          return "the server does not understand an attribute of the request (" + c.detail_ + ")";
        case 300:
          return "ALTERNATE-SERVER was missing or unusable in a 300 response";
        default: break;
      }
      break;
    case stage::relay:
      if (c.kind_ == failure_kind::stun_error && c.code_ == 403) return peer_policy_hint(c);
      if (c.kind_ == failure_kind::timeout)
        return "the relay granted the permission and channel, but no data came back through it: a firewall blocks "
               "the relay ports (coturn min-port..max-port, UDP 49152-65535 by default), or the relayed address is "
               "unreachable (coturn: external-ip, relay-ip)";
      if (c.kind_ == failure_kind::stun_error && c.code_ == 437)
        return "the allocation disappeared before the relay test: it expired or the server restarted";
      break;
    case stage::refresh:
      if (c.kind_ == failure_kind::stun_error && c.code_ == 437)
        return "the allocation was already gone: it expired or the server restarted";
      if (c.kind_ == failure_kind::timeout) return "no answer to Refresh: the allocation stays until its lifetime ends";
      break;
  }

  if (c.kind_ == failure_kind::stun_error) return generic_stun_error(c.code_);
  if (c.kind_ == failure_kind::timeout) return "no answer from " + where + " over " + tp + " in time";
  if (c.kind_ == failure_kind::refused) return "connection refused by " + where;
  if (c.kind_ == failure_kind::connection_lost) return "the server closed the connection";
  return "the server's answer did not make sense (" + c.detail_ + ")";
}

}  // namespace

bool relayed_address_looks_unreachable(const stun::address& server, const stun::address& relayed) noexcept {
  return stun::is_global(server) && !stun::is_global(relayed);
}

void add_cross_server_hints(report& r) {
  // RFC 8489 §6.2: the same server over UDP and over TCP/TLS. If only UDP
  // times out, the network in between drops UDP.
  for (auto& s : r.servers_) {
    const bool udp = !s.parsed_.secure() && s.parsed_.transport_ == stun::uri_transport::udp;
    if (!udp) continue;
    for (auto& c : s.checks_) {
      if (c.ok_ || !c.error_ || c.error_->kind_ != failure_kind::timeout ||
          (c.stage_ != stage::binding && c.stage_ != stage::allocate))
        continue;
      const auto stream_ok = std::find_if(r.servers_.begin(), r.servers_.end(), [&](const server_report& o) {
        const bool stream = o.parsed_.secure() || o.parsed_.transport_ == stun::uri_transport::tcp;
        const auto* b = o.find(stage::binding);
        return stream && o.parsed_.host_ == s.parsed_.host_ && b != nullptr && b->ok_;
      });
      if (stream_ok != r.servers_.end())
        c.error_->hint_ = "UDP is blocked on this network: " + stream_ok->uri_ +
                          " (the same host over TCP) answers, but UDP gets nothing back. WebRTC will fall back to "
                          "TURN over TCP/TLS, at a cost in latency";
    }
  }
}

// --- the signaling server -----------------------------------------------------------------

namespace {

// "host:port" of a ws:// URL, for hints ("ws://h/ws" is "h:80").
std::string authority_of(std::string_view url) {
  constexpr std::string_view scheme = "ws://";
  if (url.substr(0, scheme.size()) == scheme) url.remove_prefix(scheme.size());
  auto authority = url.substr(0, url.find_first_of("/?#"));
  const auto bracket = authority.rfind(']');
  const auto colon = authority.rfind(':');
  const bool has_port = colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  return std::string(authority) + (has_port ? "" : ":80");
}

std::string upgrade_refused_hint(int status) {
  const std::string http = "HTTP " + std::to_string(status);
  switch (status) {
    case 401:
      return "the signaling server wants a token (" + http +
             "): protocol 1.1 authentication refuses an upgrade without a valid JWT; put one in the URL "
             "(?token=...)";
    case 403:
      return "the signaling server refused this client (" + http +
             "), which sigserve does for an Origin it does not allow: send one it allows with --origin, or allow "
             "it on the server (sigserve --allowed-origin)";
    case 404: return "no WebSocket endpoint at this path (" + http + "): sigserve's is /ws";
    case 503:
      return "the signaling server is full or shutting down (" + http +
             "): try again later (sigserve --max-connections, or a drain in progress)";
    default: break;
  }
  if (status >= 200 && status < 300)
    return "an HTTP server answered (" + http +
           ") without upgrading to WebSocket: the URL points at a page, not the signaling endpoint (sigserve's "
           "is /ws)";
  if (status >= 300 && status < 400)
    return "the server redirects (" + http + "); sigprobe does not follow redirects: give the final URL";
  if (status >= 500)
    return "the server failed on the WebSocket upgrade (" + http +
           "): not a signaling server (see who answered), or one in trouble (its log says why)";
  return "the server refused the WebSocket upgrade with " + http + " instead of 101 Switching Protocols";
}

}  // namespace

std::string signaling_hint(const failure& f, std::string_view url) {
  const std::string where = authority_of(url);
  switch (f.kind_) {
    case failure_kind::no_time_left:
      return "the --timeout ran out before the signaling server could be asked: give the probe more time";
    case failure_kind::internal: return "this is a bug in sigprobe, not a problem with the server; please report it";
    case failure_kind::name_not_found:
      return "'" + where.substr(0, where.rfind(':')) +
             "' has no A or AAAA record: check the host in the --from-sigserve URL";
    case failure_kind::dns_failure:
      return "the DNS lookup failed: is this machine online and its resolver working?";
    case failure_kind::unreachable: return "no route to " + where + ": check this machine's network";
    case failure_kind::refused:
      return "nothing accepts TCP connections on " + where +
             ": the signaling server is down or listens on another port (sigserve --port), or the URL is wrong";
    case failure_kind::timeout:
      return "no answer from " + where + " in time (" + f.reason_ +
             "): a firewall drops the connection, the server is overloaded, or what listens there is not a "
             "signaling server";
    case failure_kind::connection_lost:
      return "the server closed the connection before its welcome: not a signaling server, or it turned this "
             "client away (its log says why)";
    case failure_kind::wrong_protocol:
      return where + " does not speak sigkit's signaling protocol (" + f.reason_ +
             "): is this the signaling server's WebSocket URL (sigserve: ws://host:port/ws)?";
    case failure_kind::upgrade_refused: return upgrade_refused_hint(f.code_);
    case failure_kind::no_ice_servers:
      return "the signaling server hands out no ICE servers, so its clients get none either: start it with "
             "--stun-uri and/or --turn-uri (TURN also needs --turn-secret, coturn's static-auth-secret)";
    case failure_kind::bad_response:
      return "the welcome's ice_servers cannot be probed as they are (" + f.reason_ +
             "): browsers will choke on them too; check the signaling server's --stun-uri and --turn-uri";
    default: break;
  }
  return "the signaling server could not be asked for its ICE servers (" + f.reason_ + ")";
}

// --- NAT ---------------------------------------------------------------------------------

std::optional<std::string> rfc5780_unsupported(const nat_observations& o) {
  if (!o.mapped_) return std::nullopt;  // no answer: a failure, not a server's limit
  if (!o.other_address_) return std::string("the server sent no OTHER-ADDRESS (it does not support RFC 5780)");
  if (o.server_ && o.other_address_->ip_string() == o.server_->ip_string())
    return "the server's OTHER-ADDRESS " + o.other_address_->to_string() +
           " has the server's own IP, so the tests that need a second IP cannot run";
  return std::nullopt;
}

std::string rfc5780_hint() {
  return "probe a server that supports RFC 5780 for the NAT's mapping and filtering (coturn does when it listens "
         "on two IP addresses: two listening-ip lines, and alt-listening-port)";
}

std::optional<bool> behind_nat(const nat_observations& o) noexcept {
  if (!o.local_ || !o.mapped_) return std::nullopt;
  // RFC 5780 §4.3: "If the XOR-MAPPED-ADDRESS in the response matches the
  // local address and port of the client, there is no NAT".
  return !(*o.local_ == *o.mapped_);
}

mapping_behavior classify_mapping(const nat_observations& o) noexcept {
  if (!o.mapped_ || !o.mapped_alt_ip_) return mapping_behavior::unknown;
  // RFC 5780 §4.3 test II: same mapping towards another IP -> endpoint-independent.
  if (*o.mapped_alt_ip_ == *o.mapped_) return mapping_behavior::endpoint_independent;
  // Test III: same mapping for another port on that IP -> address-dependent.
  if (!o.mapped_alt_ip_port_) return mapping_behavior::unknown;
  return *o.mapped_alt_ip_port_ == *o.mapped_alt_ip_ ? mapping_behavior::address_dependent
                                                     : mapping_behavior::address_and_port_dependent;
}

filtering_behavior classify_filtering(const nat_observations& o) noexcept {
  // RFC 5780 §4.4: test II asks for the answer from the other IP and port.
  if (!o.answered_from_other_ip_port_) return filtering_behavior::unknown;
  if (*o.answered_from_other_ip_port_) return filtering_behavior::endpoint_independent;
  // Test III: from the other port only.
  if (!o.answered_from_other_port_) return filtering_behavior::unknown;
  return *o.answered_from_other_port_ ? filtering_behavior::address_dependent
                                      : filtering_behavior::address_and_port_dependent;
}

hairpinning classify_hairpinning(const nat_observations& o) noexcept {
  if (!o.hairpin_received_) return hairpinning::not_tested;
  return *o.hairpin_received_ ? hairpinning::supported : hairpinning::not_supported;
}

std::string nat_verdict(const nat_observations& o) {
  const auto nat = behind_nat(o);
  if (const auto why = rfc5780_unsupported(o)) {
    // Test I still shows whether the mapped address is our own.
    const std::string verdict = "cannot tell the NAT's mapping and filtering: " + *why;
    if (!nat) return verdict;
    return verdict + (*nat ? "; all its answer shows is that this host is behind a NAT (the mapped address is not "
                             "its own)"
                           : "; all its answer shows is that there is no NAT between this host and the server (the "
                             "mapped address is its own)");
  }
  const auto mapping = classify_mapping(o);
  const auto filtering = classify_filtering(o);
  const bool filtered =
      filtering == filtering_behavior::address_dependent || filtering == filtering_behavior::address_and_port_dependent;

  if (nat && !*nat) {
    if (filtered)
      return "no NAT, but a firewall drops unsolicited inbound packets: direct connections still work once both "
             "sides send (ICE does)";
    return "no NAT: peers see this host's own address; direct connections likely";
  }
  if (mapping == mapping_behavior::address_dependent || mapping == mapping_behavior::address_and_port_dependent)
    return "symmetric NAT: peers will need TURN (the mapping changes with the destination, so the address a STUN "
           "server reports is useless to a peer)";
  if (mapping == mapping_behavior::endpoint_independent) {
    if (filtering == filtering_behavior::address_and_port_dependent)
      return "NAT, direct connections likely: the mapping is endpoint-independent; its port-dependent filtering "
             "is opened by ICE's connectivity checks (two such NATs may still need TURN)";
    return "NAT, direct connections likely: the mapping is endpoint-independent, so the address a STUN server "
           "reports works for peers too";
  }
  if (!o.mapped_) return "NAT behaviour unknown: the server did not answer";
  return "NAT behaviour unknown: the server's alternate address did not answer";
}

}  // namespace sigkit::probe
