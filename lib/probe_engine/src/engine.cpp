// sigprobe's ladder: dns, connect, tls, binding, allocate, relay, refresh
// for each server, all servers at once on one Asio thread; before them, for
// --from-sigserve, the signaling server's welcome (signaling.cpp).
#include <algorithm>
#include <deque>
#include <functional>
#include <random>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "nat.hpp"
#include "signaling.hpp"
#include "transport.hpp"
#include "sigkit/probe_engine/engine.hpp"
#include "sigkit/probe/diagnosis.hpp"
#include "sigkit/probe/targets.hpp"
#include "sigkit/stun/credentials.hpp"

namespace sigkit::probe_engine {

namespace {

// RFC 8656 §12: the first channel number a client may bind.
constexpr std::uint16_t probe_channel = stun::min_channel;
// How long to wait for one packet to come back through the relay.
constexpr auto relay_packet_wait = std::chrono::milliseconds(1000);
// Looking up the peer socket's public address is an extra; it gets little time.
constexpr auto peer_lookup_budget = std::chrono::milliseconds(1500);

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

stun::address unspecified_like(const stun::address& a) {
  stun::address any;
  any.family_ = a.family_;
  return any;
}

// The long-term credential state of one allocation (RFC 8489 §9.2).
struct auth_state {
  bool required_ = false;  // false if the server allocated without asking
  std::string username_;
  std::string realm_;
  std::string nonce_;
  std::vector<std::byte> key_;
};

class server_probe {
 public:
  server_probe(const target& t, const options& o, clock::time_point deadline, tls_client_context& tls)
      : target_(t), options_(o), deadline_(deadline), tls_(tls) {}

  // What run() found; complete once it has returned.
  server_report& report() noexcept { return out_; }

  awaitable<void> run() {
    out_.uri_ = target_.text_;
    out_.parsed_ = target_.uri_;
    const auto start = clock::now();
    co_await ladder();
    out_.ms_ = ms_since(start);
  }

  // What run() could not finish (an exception from deep inside Asio):
  // reported as a failed check, not a crash.
  void record_internal_error(const std::string& what) {
    check c;
    c.stage_ = next_stage_;
    c.error_ = make_failure(failure_kind::internal, what);
    finish_failure(c);
    out_.checks_.push_back(std::move(c));
  }

 private:
  awaitable<void> ladder() {
    if (!co_await resolve()) co_return;
    const bool udp = !target_.uri_.secure() && target_.uri_.transport_ == stun::uri_transport::udp;
    if (!udp) {
      if (!co_await connect()) co_return;
      if (target_.uri_.secure() && !co_await handshake()) co_return;
    }
    const bool answered = co_await binding(udp);
    if (!target_.uri_.is_turn() || !answered) co_return;
    if (!co_await allocate()) co_return;
    co_await relay();
    co_await refresh();
  }

  // --- bookkeeping --------------------------------------------------------------

  hint_context context(stage s, const failure& f) const {
    hint_context c;
    c.stage_ = s;
    c.kind_ = f.kind_;
    c.code_ = f.code_;
    c.uri_ = target_.uri_;
    c.credential_source_ = target_.credentials_.source_;
    c.username_ = target_.credentials_.username_;
    c.sent_credentials_ = sent_credentials_;
    c.cut_short_ = cut_short_;
    c.realm_ = auth_.realm_;
    c.peer_ = peer_;
    c.now_unix_ = unix_now();
    c.certificate_ = certificate_problem_;
    c.detail_ = f.reason_;
    return c;
  }

  void finish_failure(check& c) {
    c.ok_ = false;
    if (c.error_ && c.error_->hint_.empty()) c.error_->hint_ = hint_for(context(c.stage_, *c.error_));
  }

  // Opens a check, or records that the deadline left no time for it.
  bool begin(stage s, check& c) {
    next_stage_ = s;
    c.stage_ = s;
    if (clock::now() < deadline_) return true;
    c.error_ = make_failure(failure_kind::no_time_left, "--timeout reached");
    finish_failure(c);
    out_.checks_.push_back(std::move(c));
    return false;
  }

  void finish(check& c, clock::time_point started, std::optional<failure> f) {
    c.ms_ = ms_since(started);
    if (f) {
      c.error_ = std::move(f);
      finish_failure(c);
    } else {
      c.ok_ = true;
    }
    out_.checks_.push_back(std::move(c));
  }

  dns_facts& dns() { return std::get<dns_facts>(out_.checks_.front().facts_); }

  // --- dns ------------------------------------------------------------------------

  awaitable<bool> resolve() {
    check c;
    if (!begin(stage::dns, c)) co_return false;
    const auto started = clock::now();
    dns_facts facts;
    const auto& u = target_.uri_;
    std::optional<failure> f;
    if (u.host_kind_ != stun::host_kind::name) {
      facts.literal_ = true;
      const auto a = stun::address::from_string(u.host_, u.port_);
      if (a) {
        (a->family_ == stun::address_family::ipv4 ? facts.ipv4_ : facts.ipv6_).push_back(*a);
        addresses_.push_back(*a);
      } else {
        f = make_failure(failure_kind::internal, a.error());
      }
    } else {
      auto found = co_await lookup(u.host_, u.port_, deadline_);
      if (!found) {
        f = found.error();
      } else {
        addresses_ = std::move(found.value());
        for (const auto& a : addresses_)
          (a.family_ == stun::address_family::ipv4 ? facts.ipv4_ : facts.ipv6_).push_back(a);
      }
    }
    c.facts_ = std::move(facts);
    const bool ok = !f;
    finish(c, started, std::move(f));
    co_return ok;
  }

  // Each remaining address gets an equal share of the remaining time, so a
  // dead first address cannot eat the time of a live second one.
  clock::time_point share_of_time(std::size_t index) const {
    const auto now = clock::now();
    if (now >= deadline_) return deadline_;
    return now + (deadline_ - now) / static_cast<long>(addresses_.size() - index);
  }

  static std::string outcome_text(const failure& f) {
    return f.kind_ == failure_kind::timeout ? std::string("timeout") : f.reason_;
  }

  // --- connect (TCP, TLS) -----------------------------------------------------------

  awaitable<bool> connect() {
    check c;
    if (!begin(stage::connect, c)) co_return false;
    const auto started = clock::now();
    std::optional<failure> last;
    for (std::size_t i = 0; i < addresses_.size(); ++i) {
      auto flow = co_await stun_flow::connect_tcp(addresses_[i], share_of_time(i));
      if (!flow) {
        last = flow.error();
        dns().tried_.push_back({addresses_[i], outcome_text(*last)});
        continue;
      }
      dns().tried_.push_back({addresses_[i], "ok"});
      flow_ = std::move(flow.value());
      server_ = addresses_[i];
      c.facts_ = connect_facts{server_, flow_->local()};
      finish(c, started, std::nullopt);
      co_return true;
    }
    finish(c, started, last);
    co_return false;
  }

  // --- tls --------------------------------------------------------------------------

  tls_settings tls_for(const std::string& host) const {
    tls_settings s;
    s.host_ = host;
    s.host_is_ip_ = stun::address::from_string(host, 0).ok();
    s.insecure_ = options_.insecure_;
    return s;
  }

  static void note_certificate(check& c, const tls_outcome& t, bool insecure) {
    const auto& f = t.facts_;
    if (!f.verified_ && insecure)
      c.warnings_.push_back("certificate not verified (--insecure): " + f.verify_error_);
    if (f.days_left_ && *f.days_left_ >= 0 && *f.days_left_ < 14)
      c.warnings_.push_back("the certificate expires in " + std::to_string(*f.days_left_) +
                            (*f.days_left_ == 1 ? " day (" : " days (") + f.not_after_ + ")");
  }

  awaitable<bool> handshake() {
    check c;
    if (!begin(stage::tls, c)) co_return false;
    const auto started = clock::now();
    auto t = co_await flow_->start_tls(tls_for(target_.uri_.host_), tls_, deadline_);
    certificate_problem_ = t.problem_;
    note_certificate(c, t, options_.insecure_);
    c.facts_ = t.facts_;
    const bool ok = !t.failure_;
    finish(c, started, t.failure_);
    co_return ok;
  }

  // --- binding ----------------------------------------------------------------------

  stun::message with_software(stun::message m) const {
    if (!options_.software_.empty()) m.add_string(stun::attribute_type::software, options_.software_);
    return m;
  }

  // A Binding transaction, checked: a success with a mapped address, or a
  // failure saying what was wrong.
  awaitable<std::pair<transaction_outcome, std::optional<failure>>> one_binding(stun_flow& flow,
                                                                                clock::time_point until) {
    const auto request = with_software(stun::binding_request(stun::random_transaction_id()));
    stun::serialize_options so;
    so.fingerprint_ = true;
    auto r = co_await flow.transact(request, so, until);
    cut_short_ = r.cut_short_;
    std::optional<failure> f = r.answered() ? check_binding_response(r) : r.failure_;
    co_return std::pair{std::move(r), std::move(f)};
  }

  static std::optional<failure> check_binding_response(const transaction_outcome& r) {
    const auto& m = r.response_;
    if (m.class_ == stun::message_class::error_response) return stun_failure(m);
    if (m.has(stun::attribute_type::fingerprint) && stun::verify_fingerprint(r.bytes_) != stun::check_result::valid)
      return make_failure(failure_kind::integrity, "FINGERPRINT mismatch");
    if (!m.xor_mapped_address() && !m.mapped_address())
      return make_failure(failure_kind::bad_response, "no XOR-MAPPED-ADDRESS or MAPPED-ADDRESS");
    return std::nullopt;
  }

  static failure stun_failure(const stun::message& m) {
    failure f;
    f.kind_ = failure_kind::stun_error;
    if (const auto e = m.error()) {
      f.code_ = e->code_;
      f.reason_ = e->reason_.empty() ? std::string(stun::reason_phrase(e->code_)) : e->reason_;
    } else {
      f.kind_ = failure_kind::bad_response;
      f.reason_ = "an error response without a valid ERROR-CODE";
    }
    return f;
  }

  static bool is_transport_failure(const failure& f) {
    return f.kind_ == failure_kind::timeout || f.kind_ == failure_kind::refused ||
           f.kind_ == failure_kind::unreachable || f.kind_ == failure_kind::connection_lost ||
           f.kind_ == failure_kind::wrong_protocol || f.kind_ == failure_kind::no_time_left;
  }

  // Returns whether the server answered at all (a TURN server whose Binding
  // fails with an error response may still allocate).
  awaitable<bool> binding(bool udp) {
    check c;
    if (!begin(stage::binding, c)) co_return false;
    const auto started = clock::now();
    binding_facts facts;
    std::vector<double> rtts;
    unsigned transmissions = 0;
    std::optional<failure> failed;
    bool answered = false;

    auto take = [&](const transaction_outcome& r, const std::optional<failure>& f) {
      transmissions += r.transmissions_;
      if (r.answered()) {
        answered = true;
        rtts.push_back(r.rtt_ms_);
      }
      if (f) {
        if (!failed) failed = f;
        return;
      }
      const auto& m = r.response_;
      const auto mapped = m.xor_mapped_address() ? *m.xor_mapped_address() : *m.mapped_address();
      if (facts.mapped_ && !(*facts.mapped_ == mapped))
        c.warnings_.push_back("the mapped address changed between requests (" + facts.mapped_->to_string() + " then " +
                              mapped.to_string() + "): a NAT or load balancer rebinding");
      facts.mapped_ = mapped;
      mapped_ = mapped;
      if (auto o = m.other_address()) facts.other_address_ = *o;
      if (auto o = m.response_origin()) facts.response_origin_ = *o;
      if (auto s = m.software()) facts.software_ = std::string(*s);
    };

    unsigned done = 0;
    if (udp) {
      // Over UDP the first Binding is also the reachability test of each
      // address the name resolved to.
      for (std::size_t i = 0; i < addresses_.size(); ++i) {
        const auto& a = addresses_[i];
        auto flow = stun_flow::open_udp(co_await asio::this_coro::executor, unspecified_like(a), a);
        if (!flow) {
          dns().tried_.push_back({a, outcome_text(flow.error())});
          if (i + 1 == addresses_.size()) failed = flow.error();
          continue;
        }
        auto [r, f] = co_await one_binding(*flow.value(), share_of_time(i));
        const bool last = i + 1 == addresses_.size();
        if (f && is_transport_failure(*f) && !last) {
          dns().tried_.push_back({a, outcome_text(*f)});
          continue;
        }
        dns().tried_.push_back({a, f && is_transport_failure(*f) ? outcome_text(*f) : std::string("ok")});
        flow_ = std::move(flow.value());
        server_ = a;
        take(r, f);
        ++done;
        break;
      }
    }
    if (flow_) facts.server_ = server_;
    // Later requests: a lost one costs its retransmissions, not the stage.
    while (flow_ && done < std::max(1U, options_.count_) && clock::now() < deadline_) {
      if (failed && (failed->kind_ != failure_kind::timeout || !answered)) break;
      auto [r, f] = co_await one_binding(*flow_, deadline_);
      ++done;
      if (f && f->kind_ == failure_kind::timeout && answered) {
        transmissions += r.transmissions_;
        continue;
      }
      take(r, f);
    }
    facts.rtt_ = summarize_rtts(transmissions, rtts);
    if (answered && facts.rtt_.received_ < facts.rtt_.sent_)
      c.warnings_.push_back(std::to_string(facts.rtt_.sent_ - facts.rtt_.received_) + " of " +
                            std::to_string(facts.rtt_.sent_) + " transmissions got no answer");
    c.facts_ = std::move(facts);
    finish(c, started, failed);
    co_return answered;
  }

  // --- TURN requests ------------------------------------------------------------------

  // Builds a request for a fresh transaction id (XOR-PEER-ADDRESS depends on it).
  using request_builder = std::function<stun::message(const stun::transaction_id&)>;

  // Sends a request with the long-term credentials (RFC 8489 §9.2.3) and,
  // on 438 Stale Nonce, once more with the new nonce (§9.2.5).
  awaitable<transaction_outcome> authenticated(const request_builder& build, bool* retried = nullptr) {
    transaction_outcome r;
    for (int attempt = 0; attempt < 2; ++attempt) {
      stun::message m = build(stun::random_transaction_id());
      stun::serialize_options so;
      so.fingerprint_ = true;
      if (auth_.required_) {
        m.add_long_term_auth(auth_.username_, auth_.realm_, auth_.nonce_);
        so.integrity_key_ = auth_.key_;
        sent_credentials_ = true;
      }
      m = with_software(std::move(m));
      r = co_await flow_->transact(m, so, deadline_);
      cut_short_ = r.cut_short_;
      if (!r.answered() || r.response_.class_ != stun::message_class::error_response) break;
      const auto e = r.response_.error();
      if (!e || e->code_ != 438 || attempt > 0) break;
      if (auto n = r.response_.nonce()) auth_.nonce_ = std::string(*n);
      if (auto realm = r.response_.realm(); realm && std::string(*realm) != auth_.realm_) {
        auth_.realm_ = std::string(*realm);
        if (key_for_realm()) break;
      }
      if (retried) *retried = true;
    }
    co_return r;
  }

  std::optional<failure> key_for_realm() {
    auto key = stun::long_term_key(auth_.username_, auth_.realm_, target_.credentials_.password_);
    if (!key) {
      auto f = make_failure(failure_kind::credentials, std::string(stun::to_string(key.error().code_)));
      return f;
    }
    auth_.key_ = std::move(key.value());
    return std::nullopt;
  }

  // A success response to a signed request must be signed with the same key
  // (RFC 8489 §9.2.5); an unsigned one is suspicious but usable.
  std::optional<failure> check_signature(check& c, const transaction_outcome& r) const {
    if (!auth_.required_) return std::nullopt;
    switch (stun::verify_integrity(r.bytes_, auth_.key_)) {
      case stun::check_result::valid: return std::nullopt;
      case stun::check_result::absent:
        c.warnings_.push_back("the server's " + stun::method_name(r.response_.method_) +
                              " response carries no MESSAGE-INTEGRITY");
        return std::nullopt;
      case stun::check_result::mismatch:
        return make_failure(failure_kind::integrity, "MESSAGE-INTEGRITY of the response does not match our key");
      case stun::check_result::malformed:
        return make_failure(failure_kind::integrity, "malformed MESSAGE-INTEGRITY in the response");
    }
    return std::nullopt;
  }

  // Opens a new flow to an ALTERNATE-SERVER (RFC 8489 §10), same transport.
  awaitable<std::optional<failure>> follow(const stun::address& to, const std::string& tls_name) {
    if (target_.uri_.secure() || target_.uri_.transport_ == stun::uri_transport::tcp) {
      auto flow = co_await stun_flow::connect_tcp(to, deadline_);
      if (!flow) co_return flow.error();
      if (target_.uri_.secure()) {
        auto t = co_await flow.value()->start_tls(tls_for(tls_name), tls_, deadline_);
        certificate_problem_ = t.problem_;
        if (t.failure_) co_return t.failure_;
      }
      flow_ = std::move(flow.value());
    } else {
      auto flow = stun_flow::open_udp(co_await asio::this_coro::executor, unspecified_like(to), to);
      if (!flow) co_return flow.error();
      flow_ = std::move(flow.value());
    }
    server_ = to;
    co_return std::nullopt;
  }

  // --- allocate ---------------------------------------------------------------------

  awaitable<bool> allocate() {
    check c;
    if (!begin(stage::allocate, c)) co_return false;
    const auto started = clock::now();
    allocate_facts facts;
    std::optional<failure> f = co_await allocate_with_redirect(c, facts);
    if (!f && facts.relayed_ && relayed_address_looks_unreachable(server_, *facts.relayed_))
      c.warnings_.push_back("the relayed address " + facts.relayed_->ip_string() + " is " +
                            std::string(stun::to_string(stun::scope_of(*facts.relayed_))) + " while the server is at " +
                            server_.ip_string() +
                            ": peers on the Internet cannot reach it (coturn: set external-ip=public/private)");
    facts.realm_ = auth_.realm_;
    c.facts_ = std::move(facts);
    const bool ok = !f;
    finish(c, started, std::move(f));
    co_return ok;
  }

  awaitable<std::optional<failure>> allocate_with_redirect(check& c, allocate_facts& facts) {
    for (int hop = 0; hop < 2; ++hop) {
      auto step = co_await allocate_once(c, facts);
      if (!step.redirect_) co_return step.failure_;
      if (hop > 0) co_return make_failure(failure_kind::redirect_loop, "300 Try Alternate after a redirect");
      facts.redirected_to_ = step.redirect_->first;
      c.warnings_.push_back("redirected by 300 Try Alternate to " + step.redirect_->first.to_string());
      if (auto e = co_await follow(step.redirect_->first, step.redirect_->second)) {
        e->reason_ = "following ALTERNATE-SERVER " + step.redirect_->first.to_string() + ": " + e->reason_;
        co_return e;
      }
      auth_ = {};
      sent_credentials_ = false;
    }
    co_return std::nullopt;
  }

  struct allocate_step {
    std::optional<failure> failure_;
    std::optional<std::pair<stun::address, std::string>> redirect_;  // address, TLS name
  };

  std::optional<std::pair<stun::address, std::string>> redirect_of(const stun::message& m) const {
    const auto e = m.error();
    if (!e || e->code_ != 300) return std::nullopt;
    const auto alt = m.alternate_server();
    if (!alt) return std::nullopt;
    // RFC 8489 §14.16: with TLS, ALTERNATE-DOMAIN names the certificate to expect.
    const auto domain = m.get_string(stun::attribute_type::alternate_domain);
    return std::pair{*alt, domain ? std::string(*domain) : target_.uri_.host_};
  }

  awaitable<allocate_step> allocate_once(check& c, allocate_facts& facts) {
    allocate_step step;
    // RFC 8656 §7.1: a UDP relay, as WebRTC asks for.
    const request_builder allocate_udp = [](const stun::transaction_id& tid) {
      return stun::allocate_request(tid, stun::transport_protocol::udp);
    };
    // RFC 8656 §7.1 / RFC 8489 §9.2.3.1: the first request goes without
    // credentials; the 401 that comes back names the REALM and a NONCE.
    auth_.required_ = false;
    auto r = co_await authenticated(allocate_udp);
    if (!r.answered()) {
      step.failure_ = r.failure_;
      co_return step;
    }
    if (r.response_.class_ == stun::message_class::success_response) {
      c.warnings_.push_back("the server allocated without asking for credentials: anyone can use this relay");
      step.failure_ = read_allocation(c, r, facts);
      co_return step;
    }
    if ((step.redirect_ = redirect_of(r.response_))) co_return step;
    const auto e = r.response_.error();
    if (!e || e->code_ != 401) {
      step.failure_ = stun_failure(r.response_);
      co_return step;
    }
    const auto realm = r.response_.realm();
    const auto nonce = r.response_.nonce();
    if (!realm || !nonce) {
      step.failure_ = make_failure(failure_kind::bad_response, "401 without REALM and NONCE");
      step.failure_->hint_ =
          "the server answered 401 without REALM and NONCE, so no client can authenticate (RFC 8489 §9.2.4)";
      co_return step;
    }
    auth_.required_ = true;
    auth_.username_ = target_.credentials_.username_;
    auth_.realm_ = std::string(*realm);
    auth_.nonce_ = std::string(*nonce);
    if (auto k = key_for_realm()) {
      step.failure_ = k;
      co_return step;
    }

    r = co_await authenticated(allocate_udp, &facts.stale_nonce_retried_);
    if (!r.answered()) {
      step.failure_ = r.failure_;
      co_return step;
    }
    if (r.response_.class_ == stun::message_class::error_response) {
      if ((step.redirect_ = redirect_of(r.response_))) co_return step;
      step.failure_ = stun_failure(r.response_);
      co_return step;
    }
    if (auto bad = check_signature(c, r)) {
      step.failure_ = bad;
      co_return step;
    }
    step.failure_ = read_allocation(c, r, facts);
    co_return step;
  }

  std::optional<failure> read_allocation(check& c, const transaction_outcome& r, allocate_facts& facts) {
    const auto& m = r.response_;
    const auto relayed = m.xor_relayed_address();
    if (!relayed) {
      auto f = make_failure(failure_kind::bad_response, "Allocate success without XOR-RELAYED-ADDRESS");
      f.hint_ = "the server said yes to Allocate but gave no relayed address (RFC 8656 §7.3 requires one)";
      return f;
    }
    facts.relayed_ = *relayed;
    if (auto mapped = m.xor_mapped_address()) facts.mapped_ = *mapped;
    if (auto life = m.lifetime()) facts.lifetime_s_ = *life;
    else c.warnings_.push_back("the Allocate response carries no LIFETIME");
    relayed_ = *relayed;
    return std::nullopt;
  }

  // --- relay ----------------------------------------------------------------------------

  // The address the relay will see our peer socket's packets come from: its
  // server-reflexive address if the server answers Binding over UDP, else
  // its local address (right when there is no NAT).
  awaitable<stun::address> peer_address_as_seen(stun_flow& peer) {
    const auto local = peer.local();
    // Binding showed no NAT between us and the server: the relay sees the
    // peer socket at its own address.
    if (mapped_ && *mapped_ == flow_->local()) co_return local;
    // Only a server of the peer's address family can tell.
    if (server_.family_ != local.family_) co_return local;
    stun::address server_udp = server_;
    // turn:...?transport=tcp shares its port with UDP; for TLS the plain
    // port is a guess (RFC 8489 §6.2.1's default).
    if (target_.uri_.secure()) server_udp.port_ = stun::default_port;
    const auto until = std::min(deadline_, clock::now() + peer_lookup_budget);
    const auto request = with_software(stun::binding_request(stun::random_transaction_id()));
    auto r = co_await peer.transact(request, {}, until, server_udp);
    if (r.answered() && r.response_.class_ == stun::message_class::success_response)
      if (auto mapped = r.response_.xor_mapped_address()) co_return *mapped;
    co_return local;
  }

  awaitable<void> relay() {
    check c;
    if (!begin(stage::relay, c)) co_return;
    const auto started = clock::now();
    relay_facts facts;
    auto f = co_await relay_round_trips(c, facts);
    c.facts_ = std::move(facts);
    finish(c, started, std::move(f));
  }

  awaitable<std::optional<failure>> relay_round_trips(check& c, relay_facts& facts) {
    // The peer: a second local socket, on the address the system sends from
    // towards the relayed address (an IPv6 client may get an IPv4 relay).
    const auto ex = co_await asio::this_coro::executor;
    const auto local = source_address_towards(ex, *relayed_);
    if (!local) co_return make_failure(failure_kind::unreachable, "no route to the relayed address " + relayed_->to_string());
    auto peer_flow = stun_flow::open_udp(ex, *local, std::nullopt);
    if (!peer_flow) co_return peer_flow.error();
    auto& peer = *peer_flow.value();
    peer_ = co_await peer_address_as_seen(peer);
    facts.peer_ = peer_;

    // RFC 8656 §9: a permission for the peer's IP, then §12: a channel.
    const stun::address peer_address = *peer_;
    const request_builder permission = [peer_address](const stun::transaction_id& tid) {
      const std::array<stun::address, 1> peers{peer_address};
      return stun::create_permission_request(tid, peers);
    };
    const request_builder channel_bind = [peer_address](const stun::transaction_id& tid) {
      return stun::channel_bind_request(tid, probe_channel, peer_address);
    };
    auto r = co_await authenticated(permission);
    if (!r.answered()) co_return r.failure_;
    if (r.response_.class_ == stun::message_class::error_response) co_return stun_failure(r.response_);
    r = co_await authenticated(channel_bind);
    if (!r.answered()) co_return r.failure_;
    if (r.response_.class_ == stun::message_class::error_response) {
      auto e = stun_failure(r.response_);
      e.reason_ = "ChannelBind: " + e.reason_;
      co_return e;
    }
    facts.channel_ = probe_channel;

    // Round trips peer -> relay -> client -> relay -> peer. The peer sends
    // first, which also opens any NAT in front of it towards the relay.
    std::vector<double> rtts;
    unsigned sent = 0;
    std::mt19937 random(std::random_device{}());
    const unsigned packets = std::max(1U, options_.count_);
    for (unsigned i = 0; i < packets && clock::now() < deadline_; ++i) {
      // Nothing back from the first two: the relay does not work, stop here.
      if (sent >= 2 && rtts.empty()) break;
      const std::string text = "sigprobe relay " + std::to_string(i) + " " + std::to_string(random());
      const auto payload = std::as_bytes(std::span(text.data(), text.size()));
      const auto t0 = clock::now();
      const auto until = std::min(deadline_, t0 + relay_packet_wait);
      ++sent;
      if (auto e = co_await peer.send(payload, until, *relayed_)) co_return e;
      if (!co_await client_receives(payload, until)) continue;
      auto frame = stun::encode_channel_data(probe_channel, payload, flow_->is_stream());
      if (auto e = co_await flow_->send(*frame, until)) co_return e;
      if (co_await peer_receives(peer, payload, until)) rtts.push_back(ms_since(t0));
    }
    facts.rtt_ = summarize_rtts(sent, rtts);
    cut_short_ = false;  // packets, not transactions
    if (rtts.empty())
      co_return make_failure(failure_kind::timeout, "none of " + std::to_string(sent) + " packets came back");
    if (rtts.size() < sent)
      c.warnings_.push_back(std::to_string(sent - rtts.size()) + " of " + std::to_string(sent) +
                            " packets were lost through the relay");
    co_return std::nullopt;
  }

  static bool same_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

  // The packet arrives at the client as ChannelData on our channel, or as a
  // Data indication (RFC 8656 §11.6) if the channel is not in place.
  awaitable<bool> client_receives(std::span<const std::byte> payload, clock::time_point until) {
    for (;;) {
      auto in = co_await flow_->receive(until);
      if (!in) co_return false;
      if (in->kind_ == stun::frame_kind::channel_data) {
        auto cd = stun::decode_channel_data(in->bytes_);
        if (cd && cd->channel_ == probe_channel && same_bytes(cd->data_, payload)) co_return true;
        continue;
      }
      auto m = stun::parse(in->bytes_);
      if (m && m->method_ == stun::method::data && m->class_ == stun::message_class::indication)
        if (auto d = m->data(); d && same_bytes(*d, payload)) co_return true;
    }
  }

  static awaitable<bool> peer_receives(stun_flow& peer, std::span<const std::byte> payload, clock::time_point until) {
    for (;;) {
      auto in = co_await peer.receive(until);
      if (!in) co_return false;
      if (same_bytes(in->bytes_, payload)) co_return true;
    }
  }

  // --- refresh ------------------------------------------------------------------------

  awaitable<void> refresh() {
    check c;
    if (!begin(stage::refresh, c)) co_return;
    const auto started = clock::now();
    // RFC 8656 §7.3: LIFETIME 0 deletes the allocation at once.
    const request_builder free_allocation = [](const stun::transaction_id& tid) {
      return stun::refresh_request(tid, 0);
    };
    auto r = co_await authenticated(free_allocation);
    std::optional<failure> f;
    if (!r.answered()) f = r.failure_;
    else if (r.response_.class_ == stun::message_class::error_response) f = stun_failure(r.response_);
    else f = check_signature(c, r);
    finish(c, started, std::move(f));
  }

  const target& target_;
  const options& options_;
  clock::time_point deadline_;
  tls_client_context& tls_;
  server_report out_;

  stage next_stage_ = stage::dns;
  std::vector<stun::address> addresses_;
  stun::address server_;
  std::unique_ptr<stun_flow> flow_;
  certificate_problem certificate_problem_ = certificate_problem::none;
  auth_state auth_;
  bool sent_credentials_ = false;
  bool cut_short_ = false;  // the last transaction's timeout came from --timeout
  std::optional<stun::address> mapped_;  // from the binding stage
  std::optional<stun::address> relayed_;
  std::optional<stun::address> peer_;
};

}  // namespace

probe::report run(const std::vector<target>& targets, const options& o,
                  const std::optional<signaling_source>& signaling) {
  namespace asio = boost::asio;
  asio::io_context io;
  report r;
  const auto start = clock::now();
  const auto deadline = start + o.timeout_;

  // One TLS context for the run, shared by every TLS connection. It is
  // built here, before any probe starts, so that loading the CA store does
  // not land inside a probe's timings on the shared thread; a failure to
  // build it is kept and reported by every TLS check.
  tls_client_context tls(o.ca_file_);
  if (needs_tls(targets)) (void)tls.get();

  // Fetched targets join the list while the first ones run: a deque keeps
  // the references the probes hold valid.
  std::deque<target> all(targets.begin(), targets.end());
  std::vector<std::unique_ptr<server_probe>> probes;
  const auto start_probe = [&](const target& t) {
    probes.push_back(std::make_unique<server_probe>(t, o, deadline, tls));
    auto* p = probes.back().get();
    asio::co_spawn(io, p->run(), [p](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        p->record_internal_error(ex.what());
      }
    });
  };
  for (const auto& t : all) start_probe(t);

  // --nat picks the first UDP server of the complete list.
  std::vector<target> nat_candidates;
  const auto start_nat = [&] {
    if (!o.nat_) return;
    nat_candidates.assign(all.begin(), all.end());
    r.nat_.emplace();
    asio::co_spawn(io, discover_nat(nat_candidates, o, deadline, *r.nat_), [&r](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        r.nat_->status_ = nat_status::failed;
        r.nat_->error_ = make_failure(failure_kind::internal, ex.what());
      }
    });
  };

  // A coroutine lambda's captures live in the lambda, not in the coroutine
  // frame: this one must outlive io.run().
  const auto fetch = [&]() -> awaitable<void> {
    auto fetched = co_await fetch_ice_servers(*signaling, o.software_, deadline);
    *r.signaling_ = std::move(fetched.report_);
    if (needs_tls(fetched.targets_)) (void)tls.get();
    for (auto& t : fetched.targets_) {
      all.push_back(std::move(t));
      start_probe(all.back());
    }
    start_nat();
  };
  if (signaling) {
    r.signaling_.emplace();
    r.signaling_->url_ = signaling->url_;
    asio::co_spawn(io, fetch(), [&r, &start_nat](const std::exception_ptr& e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        r.signaling_->ok_ = false;
        r.signaling_->error_ = make_failure(failure_kind::internal, ex.what());
        r.signaling_->error_->hint_ = signaling_hint(*r.signaling_->error_, r.signaling_->url_);
        if (!r.nat_) start_nat();
      }
    });
  } else {
    start_nat();
  }
  io.run();
  for (auto& p : probes) r.servers_.push_back(std::move(p->report()));
  add_cross_server_hints(r);
  r.ms_ = ms_since(start);
  return r;
}

}  // namespace sigkit::probe_engine
