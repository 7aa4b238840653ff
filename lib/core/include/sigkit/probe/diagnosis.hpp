// sigprobe's decisions, kept pure so they can be tested without a network:
// the retransmission schedule, the hint for a failed stage, NAT
// classification from what the RFC 5780 tests observed, and the verdicts.
// No sockets, no clock: "now" is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/probe/probe.hpp"

namespace sigkit::probe {

// --- RFC 8489 §6.2.1 retransmission over UDP ---------------------------------
//
// A request is sent at 0, RTO, 3 RTO, 7 RTO ... (the wait doubles), Rc
// times in all; after the last one the client waits Rm * RTO more. With
// RTO = 500 ms, Rc = 7, Rm = 16 that is sends at 0, 500, 1500, 3500, 7500,
// 15500, 31500 ms and giving up at 39500 ms.
struct retransmission_policy {
  std::chrono::milliseconds rto_{500};
  unsigned max_sends_ = 7;  // Rc
  unsigned final_wait_rtos_ = 16;  // Rm
};

struct retransmission_schedule {
  std::vector<std::chrono::milliseconds> send_at_;  // offsets from the first send
  std::chrono::milliseconds give_up_at_{0};
};

// The schedule, cut off at `budget` (the time left before the run's
// deadline): sends that would fall after it are dropped and the give-up
// time is capped at it.
retransmission_schedule make_schedule(const retransmission_policy& p, std::chrono::milliseconds budget);

// --- round trips ----------------------------------------------------------------

rtt_summary summarize_rtts(unsigned transmissions, const std::vector<double>& rtts_ms);

// --- hints -----------------------------------------------------------------------

// Why a certificate did not verify, sorted into what a user can act on
// (the engine maps OpenSSL's X509_V_ERR_* codes onto it).
enum class certificate_problem { none, expired, not_yet_valid, self_signed, unknown_issuer, name_mismatch, other };

// What a hint is chosen from: the failure and what the probe knew.
struct hint_context {
  stage stage_ = stage::binding;
  failure_kind kind_ = failure_kind::timeout;
  int code_ = 0;  // STUN error code
  stun::uri uri_;
  credential_source credential_source_ = credential_source::none;
  std::string username_;
  // The Allocate (or other request) carried MESSAGE-INTEGRITY.
  bool sent_credentials_ = false;
  // A timeout ended by --timeout, before RFC 8489's own give-up time.
  bool cut_short_ = false;
  std::string realm_;  // REALM the server asked for, if any
  std::optional<stun::address> peer_;  // relay stage: the peer we asked for
  std::int64_t now_unix_ = 0;
  certificate_problem certificate_ = certificate_problem::none;
  std::string detail_;  // e.g. OpenSSL's words for the certificate problem
};

// One or two sentences in plain words, never empty.
std::string hint_for(const hint_context& c);

// RFC 8656 §7 advice turned into a check: a relayed address in a private
// range handed out by a server reached at a public address is unreachable
// for peers on the Internet, usually a coturn without `external-ip`.
bool relayed_address_looks_unreachable(const stun::address& server, const stun::address& relayed) noexcept;

// After every server ran: hints that need two servers' results, such as a
// UDP timeout where TCP or TLS to the same host worked ("UDP is blocked on
// this network"). Appends to the failing checks' hints.
void add_cross_server_hints(report& r);

// --- the signaling server (--from-sigserve) -------------------------------------------

// The hint for a failed signaling stage (connecting to `url`, the WebSocket
// upgrade, the welcome and its ice_servers), in plain words, never empty.
std::string signaling_hint(const failure& f, std::string_view url);

// --- NAT (RFC 5780 §4) -------------------------------------------------------------

// RFC 5780 §7.4: a server that supports NAT behaviour discovery answers
// Binding with an OTHER-ADDRESS on another IP. Without one, only "NAT or
// not" can be told. The reason when test I's answer shows no such support;
// nullopt when it does, or when test I got no answer at all.
std::optional<std::string> rfc5780_unsupported(const nat_observations& o);
// What to do about it (coturn: two listening-ip addresses).
std::string rfc5780_hint();

std::optional<bool> behind_nat(const nat_observations& o) noexcept;
mapping_behavior classify_mapping(const nat_observations& o) noexcept;
filtering_behavior classify_filtering(const nat_observations& o) noexcept;
hairpinning classify_hairpinning(const nat_observations& o) noexcept;
// "no NAT", "NAT, direct connections likely", "symmetric NAT: peers will
// need TURN", each followed by a clause on why; "cannot tell: ..." when the
// server does not support RFC 5780, with what test I showed all the same.
std::string nat_verdict(const nat_observations& o);

// --- the run ---------------------------------------------------------------------------

// sigprobe's exit code: 0 the signaling stage (--from-sigserve) and every
// server passed every stage asked of it, and --nat did not fail (a server
// without RFC 5780 makes it "cannot tell", which is no failure); 1 otherwise.
int exit_code(const report& r) noexcept;

}  // namespace sigkit::probe
