// RFC 5780 NAT behaviour discovery: the observations are gathered here, the
// classification and verdict are pure (sigkit/probe/diagnosis.hpp).
#include "nat.hpp"

#include <algorithm>

#include "sigkit/probe/diagnosis.hpp"

namespace sigkit::probe_engine {

namespace {

// A test whose expected outcome may be silence (a filtered response) waits
// this long at most instead of the full 39.5 s of RFC 8489 retransmissions.
constexpr auto silence_budget = std::chrono::milliseconds(3000);
// Hairpinning: our own request comes back through the NAT or not at all.
constexpr auto hairpin_budget = std::chrono::milliseconds(1000);

awaitable<std::optional<stun::address>> first_address(const stun::uri& u, clock::time_point deadline) {
  if (u.host_kind_ != stun::host_kind::name) {
    auto a = stun::address::from_string(u.host_, u.port_);
    if (a) co_return *a;
    co_return std::nullopt;
  }
  auto found = co_await lookup(u.host_, u.port_, deadline);
  if (!found) co_return std::nullopt;
  co_return found->front();
}

struct binding_answer {
  std::optional<stun::address> mapped_;
  std::optional<stun::address> other_;
  bool answered_ = false;
};

awaitable<binding_answer> binding_to(stun_flow& flow, const stun::address& to, clock::time_point until,
                                     std::optional<stun::change_request> change = {}) {
  auto request = stun::binding_request(stun::random_transaction_id());
  if (change) request.add_change_request(*change);
  stun::serialize_options so;
  so.fingerprint_ = true;
  auto r = co_await flow.transact(request, so, until, to);
  binding_answer a;
  if (!r.answered() || r.response_.class_ != stun::message_class::success_response) co_return a;
  a.answered_ = true;
  if (auto m = r.response_.xor_mapped_address()) a.mapped_ = *m;
  else if (auto old = r.response_.mapped_address()) a.mapped_ = *old;
  if (auto o = r.response_.other_address()) a.other_ = *o;
  co_return a;
}

// RFC 5780 §4.5: a Binding request sent to our own mapped address comes
// back to us if the NAT hairpins.
awaitable<bool> hairpin(stun_flow& flow, const stun::address& mapped, clock::time_point until) {
  const auto request = stun::binding_request(stun::random_transaction_id());
  const auto bytes = stun::serialize(request);
  if (co_await flow.send(bytes, until, mapped)) co_return false;
  for (;;) {
    auto in = co_await flow.receive(until);
    if (!in) co_return false;
    if (in->kind_ != stun::frame_kind::stun) continue;
    auto m = stun::parse(in->bytes_);
    if (m && m->transaction_id_ == request.transaction_id_ && m->class_ == stun::message_class::request) co_return true;
  }
}

failure nat_failure(failure_kind kind, std::string reason, std::string hint) {
  auto f = make_failure(kind, std::move(reason));
  f.hint_ = std::move(hint);
  return f;
}

}  // namespace

awaitable<void> discover_nat(const std::vector<target>& targets, const options&, clock::time_point deadline,
                             nat_report& out) {
  const auto started = clock::now();
  const auto finish = [&] {
    auto& o = out.observed_;
    out.behind_nat_ = behind_nat(o);
    out.mapping_ = classify_mapping(o);
    out.filtering_ = classify_filtering(o);
    out.hairpinning_ = classify_hairpinning(o);
    out.verdict_ = nat_verdict(o);
    out.ms_ = ms_since(started);
  };

  // RFC 5780 runs over UDP only.
  const auto pick = std::find_if(targets.begin(), targets.end(), [](const target& t) {
    return !t.uri_.secure() && t.uri_.transport_ == stun::uri_transport::udp;
  });
  if (pick == targets.end()) {
    out.error_ = nat_failure(failure_kind::bad_response, "no UDP server to test against",
                             "--nat needs a stun: or turn: URI over UDP whose server supports RFC 5780");
    finish();
    co_return;
  }
  out.server_ = pick->text_;
  const auto ex = co_await asio::this_coro::executor;

  const auto server = co_await first_address(pick->uri_, deadline);
  if (!server) {
    out.error_ = nat_failure(failure_kind::name_not_found, "cannot resolve " + pick->uri_.host_,
                             "the NAT test needs the server's address; see the server's dns check");
    finish();
    co_return;
  }
  auto local = source_address_towards(ex, *server);
  auto flow = local ? stun_flow::open_udp(ex, *local, std::nullopt)
                    : result<std::unique_ptr<stun_flow>, failure>(make_failure(failure_kind::unreachable, "no route"));
  if (!flow) {
    out.error_ = nat_failure(flow.error().kind_, flow.error().reason_, "no route to the server from this host");
    finish();
    co_return;
  }
  auto& f = *flow.value();
  auto& o = out.observed_;
  o.local_ = f.local();
  o.server_ = *server;

  // Test I (§4.3): the mapping towards the primary address, and the
  // server's alternate address.
  const auto test1 = co_await binding_to(f, *server, deadline);
  if (!test1.answered_ || !test1.mapped_) {
    out.error_ = nat_failure(failure_kind::timeout, "no Binding answer from " + server->to_string(),
                             "the server did not answer over UDP; see its binding check");
    finish();
    co_return;
  }
  o.mapped_ = test1.mapped_;
  o.other_address_ = test1.other_;
  // A server without RFC 5780 cannot tell mapping from filtering: neutral,
  // not a failure; the verdict says what test I showed all the same.
  if (const auto why = rfc5780_unsupported(o)) {
    out.status_ = nat_status::cannot_tell;
    out.reason_ = *why;
    out.hint_ = rfc5780_hint();
    finish();
    co_return;
  }
  const auto& other = *test1.other_;

  // Test II: the alternate IP, primary port. Test III: the alternate IP and port.
  auto alt_ip = other;
  alt_ip.port_ = server->port_;
  const auto test2 = co_await binding_to(f, alt_ip, std::min(deadline, clock::now() + silence_budget));
  o.mapped_alt_ip_ = test2.mapped_;
  if (test2.mapped_ && !(*test2.mapped_ == *test1.mapped_)) {
    const auto test3 = co_await binding_to(f, other, std::min(deadline, clock::now() + silence_budget));
    o.mapped_alt_ip_port_ = test3.mapped_;
  }

  // Filtering (§4.4) test II: ask for the answer from the other IP and port;
  // test III: from the other port only.
  const auto filter2 = co_await binding_to(f, *server, std::min(deadline, clock::now() + silence_budget),
                                           stun::change_request{true, true});
  if (clock::now() < deadline) o.answered_from_other_ip_port_ = filter2.answered_;
  if (o.answered_from_other_ip_port_ && !*o.answered_from_other_ip_port_) {
    const auto filter3 = co_await binding_to(f, *server, std::min(deadline, clock::now() + silence_budget),
                                             stun::change_request{false, true});
    if (clock::now() < deadline) o.answered_from_other_port_ = filter3.answered_;
  }

  // Hairpinning only means something behind a NAT.
  if (behind_nat(o).value_or(false) && clock::now() < deadline)
    o.hairpin_received_ = co_await hairpin(f, *o.mapped_, std::min(deadline, clock::now() + hairpin_budget));

  finish();
  const bool determined = out.behind_nat_.has_value() && out.mapping_ != mapping_behavior::unknown;
  out.status_ = determined ? nat_status::determined : nat_status::failed;
  if (!determined && !out.error_)
    out.error_ = nat_failure(failure_kind::timeout, "the alternate address did not answer",
                             "the server's OTHER-ADDRESS " + other.to_string() +
                                 " did not answer: a firewall, or a server whose second address is misconfigured");
}

}  // namespace sigkit::probe_engine
