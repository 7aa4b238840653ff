// What a simulated peer does, in any dialect: waits for its welcome, joins
// its room and, once the room is complete, negotiates as browsers do (the
// newer member offers to each older one, which answers; both trickle
// candidates), then holds and leaves. Every relay carries a sequence
// number, its send time and its room (bench_tag), so the receiving side
// counts what was lost, duplicated or misrouted and measures latency one
// way, on one clock: a room lives on one loop, so all of this is the loop's
// own state.
#include <algorithm>

#include "generator_loop.hpp"

namespace sigkit::bench_engine {
namespace {

using bench::inbound;
using bench::outbound_kind;

std::int64_t ns_of(std::chrono::nanoseconds d) { return d.count(); }

std::string candidate_line(std::uint64_t n) {
  return "candidate:842163049 1 udp 1677729535 127.0.0.1 " + std::to_string(40000 + n % 20000) +
         " typ srflx raddr 0.0.0.0 rport 0 generation 0";
}

}  // namespace

void generator_loop::note_error(const std::string& code) {
  ++errors[code];
  run_.errors_total.fetch_add(1, std::memory_order_relaxed);
}

void generator_loop::on_text(peer& p, std::string_view text) {
  const auto& speech = run_.speech;
  auto in = speech.decode(text);
  const bool opening = p.state == peer::phase::opening;
  switch (in.what) {
    case inbound::kind::reply: return send_frame(p, websocket::opcode::text, in.reply);
    case inbound::kind::violation:
      return fail(p, opening ? stage::handshake : stage::session,
                  (opening ? "not a " + speech.name() + " server: " : std::string("protocol violation: ")) + in.why);
    case inbound::kind::disconnect:
      if (p.state == peer::phase::leaving) return close_peer(p);
      return fail(p, opening ? stage::handshake : stage::session, in.why);
    case inbound::kind::welcome:
      if (opening) on_welcome(p, in.peer);
      return;  // a second welcome means nothing
    default: break;
  }
  if (opening) {
    // The first thing a server of this dialect says is its welcome.
    return fail(p, stage::handshake, "not a " + speech.name() + " server: its first message is not a welcome");
  }
  switch (in.what) {
    case inbound::kind::joined:
      if (p.state == peer::phase::joining) on_joined(p, in);
      return;
    case inbound::kind::peer_joined:
      if (p.joined) {
        ++p.known;
        maybe_negotiate(p);
      }
      return;
    case inbound::kind::full:
      note_error("room-full");
      if (!p.joined) fail(p, stage::session, "room-full");
      return;
    case inbound::kind::error:
      note_error(in.code);
      // room-full, invalid-room, forbidden...: this session cannot go on.
      if (!p.joined) fail(p, stage::session, in.code);
      return;
    case inbound::kind::relayed: return on_relayed(p, in);
    default: return;  // pong, left, peer-left, log lines
  }
}

void generator_loop::on_welcome(peer& p, const std::string& id) {
  auto now = now_ns();
  connect.record(std::chrono::nanoseconds(now - p.intended_ns));
  connect_uncorrected.record(std::chrono::nanoseconds(now - p.actual_ns));
  ++connected;
  p.welcomed = true;
  run_.connected_total.fetch_add(1, std::memory_order_relaxed);
  auto open = run_.connected_now.fetch_add(1, std::memory_order_relaxed) + 1;
  auto peak = run_.peak_connected.load(std::memory_order_relaxed);
  while (open > peak && !run_.peak_connected.compare_exchange_weak(peak, open)) {
  }
  // A dialect without ids of its own gets sigbench's, unique in the run.
  p.id = id.empty() ? run_.room_prefix + "p" + std::to_string(p.index) : id;
  p.state = peer::phase::joining;
  p.join_sent_ns = now;
  bench::fill f;
  f.room = p.room->name;
  f.self = p.id;
  send_frame(p, websocket::opcode::text, run_.speech.encode(outbound_kind::join, f));
  // The room fills as its members arrive; the last one gets time to come.
  const auto& plan = run_.plan;
  std::int64_t fill_ns =
      plan.rate > 0 ? static_cast<std::int64_t>(static_cast<double>(room_size_) / plan.rate * 1e9) : 0;
  schedule(p, now + ns_of(plan.negotiation_timeout) + fill_ns);
}

void generator_loop::on_joined(peer& p, const inbound& in) {
  auto now = now_ns();
  join.record(std::chrono::nanoseconds(now - p.join_sent_ns));
  ++joined;
  p.joined = true;
  p.state = peer::phase::in_room;
  run_.joined_total.fetch_add(1, std::memory_order_relaxed);
  run_.in_rooms.fetch_add(1, std::memory_order_relaxed);
  run_.last_join_ns.store(now, std::memory_order_relaxed);
  auto& r = *p.room;
  if (in.peers_listed) {
    // The members already there, by their ids; they are this room's
    // members on this loop (the server's word against sigbench's).
    for (const auto& id : in.peers)
      for (auto h : r.members)
        if (auto* m = find(h); m && m != &p && m->id == id) p.older.push_back(h);
    p.known = static_cast<std::uint16_t>(in.peers.size());
  } else {
    auto others = in.room_complete ? room_size_ - 1 : in.others;
    p.known = static_cast<std::uint16_t>(others);
    p.unnamed_older = static_cast<std::uint16_t>(others);
  }
  if (r.broken) return start_leaving(p);
  if (r.expected == 0 && !r.done) return complete_room(r);  // a room of one: nothing to negotiate
  if (r.done) return start_leaving(p);
  maybe_negotiate(p);
}

// The room is complete when this peer knows every other member; then it
// offers to each member that was there before it.
void generator_loop::maybe_negotiate(peer& p) {
  if (!p.joined || p.negotiating || p.known + 1u < room_size_) return;
  p.negotiating = true;
  auto& r = *p.room;
  if ((!p.older.empty() || p.unnamed_older > 0) && r.first_offer_ns < 0) r.first_offer_ns = now_ns();
  auto offer_to = [&](handle receiver, const std::string& id) {
    send_relay(p, outbound_kind::offer, receiver, id);
    for (std::uint64_t i = 0; i < run_.plan.candidates; ++i) send_relay(p, outbound_kind::candidate, receiver, id);
  };
  for (auto h : p.older)
    if (auto* m = find(h)) offer_to(h, m->id);
  for (std::uint16_t i = 0; i < p.unnamed_older; ++i) offer_to(0, {});
  std::vector<handle>().swap(p.older);
}

// A relay's number: the loop's index above 43 bits of its own count, so that
// it stays below 2^53 and comes back exact from servers that read JSON
// numbers as doubles (every JavaScript one).
constexpr unsigned seq_loop_shift = 43;
static_assert((bench::max_threads << seq_loop_shift) <= (std::uint64_t{1} << 53));

void generator_loop::send_relay(peer& p, outbound_kind kind, handle receiver, const std::string& to) {
  auto seq = (std::uint64_t{index_} << seq_loop_shift) | next_seq_++;
  in_flight_.emplace(seq, flight{receiver, handle_of(p), kind});
  ++sent;
  bench::bench_tag tag;
  tag.seq = seq;
  tag.t_ns = run_.since_start(clock::now());
  tag.room = p.room->name;
  auto tag_text = tag.to_json();
  std::string candidate;
  bench::fill f;
  f.room = p.room->name;
  f.self = p.id;
  f.to = to;
  f.bench = tag_text;
  if (kind == outbound_kind::candidate) {
    candidate = candidate_line(next_seq_);
    f.candidate = candidate;
  } else {
    f.sdp = run_.sdp;
  }
  send_frame(p, websocket::opcode::text, run_.speech.encode(kind, f));
}

void generator_loop::on_relayed(peer& p, const inbound& in) {
  auto now = now_ns();
  if (!in.tag) {
    ++misrouted;  // a relay that sigbench never sent
    return;
  }
  const auto& tag = *in.tag;
  if (tag.room != p.room->name) {
    ++misrouted;  // from another room: isolation broken (or a server that relays to everyone)
    return;
  }
  if (tag.bye) return;  // a goodbye from the room: expected, and counted nowhere
  auto seq = *tag.seq;
  auto it = (seq >> seq_loop_shift) == index_ ? in_flight_.find(seq) : in_flight_.end();
  if (it == in_flight_.end()) {
    ++duplicated;  // delivered already (or a sequence number sigbench never gave out)
    return;
  }
  const auto me = handle_of(p);
  const flight f = it->second;
  if (f.sender == me) {
    ++misrouted;  // echoed back to its sender
    return;
  }
  if (f.receiver != 0 && f.receiver != me) {
    // Right room, wrong peer; still in flight for its receiver. A dialect
    // that broadcasts to the room is allowed to let every member hear it.
    if (run_.speech.addresses_peers()) ++misrouted;
    return;
  }
  in_flight_.erase(it);
  ++received;
  run_.received_total.fetch_add(1, std::memory_order_relaxed);
  const auto latency = std::chrono::nanoseconds(std::max<std::int64_t>(0, now - tag.t_ns));
  relay.record(latency);
  auto* sender = find(f.sender);
  if (sender && sender->target != p.target) relay_cross.record(latency);
  if (f.kind == outbound_kind::offer) {
    if (sender) {
      const std::string to = sender->id;
      send_relay(p, outbound_kind::answer, f.sender, to);
      for (std::uint64_t i = 0; i < run_.plan.candidates; ++i) send_relay(p, outbound_kind::candidate, f.sender, to);
    }
  }
  auto& r = *p.room;
  if (++r.received == r.expected) complete_room(r);
}

void generator_loop::complete_room(room_state& r) {
  r.done = true;
  if (r.first_offer_ns >= 0) negotiation.record(std::chrono::nanoseconds(now_ns() - r.first_offer_ns));
  // Members stay for --hold, then leave.
  for (auto h : r.members) {
    auto* m = find(h);
    if (!m || m->state != peer::phase::in_room) continue;
    if (run_.plan.hold.count() > 0) schedule(*m, now_ns() + ns_of(run_.plan.hold));
    else start_leaving(*m);
  }
}

void generator_loop::break_room(room_state& r, const peer& failed_member) {
  // A room with a failed member can never complete: the others go now
  // instead of waiting out the negotiation timeout.
  r.broken = true;
  for (auto h : r.members) {
    auto* m = find(h);
    if (m && m != &failed_member && m->state == peer::phase::in_room) start_leaving(*m);
  }
}

void generator_loop::start_leaving(peer& p) {
  // Only queues frames: never closes anything here, so callers that walk a
  // room's members may call it for each.
  if (p.state == peer::phase::leaving || p.state == peer::phase::free) return;
  const auto& speech = run_.speech;
  const auto mode = run_.plan.leave;
  if (p.joined) {
    if (mode == bench::leave_mode::leave && speech.can_send(outbound_kind::leave)) {
      bench::fill f;
      f.room = p.room->name;
      f.self = p.id;
      send_frame(p, websocket::opcode::text, speech.encode(outbound_kind::leave, f));
    } else if (mode == bench::leave_mode::bye && speech.can_send(outbound_kind::bye)) {
      bench::bench_tag tag;
      tag.room = p.room->name;
      tag.bye = true;
      auto tag_text = tag.to_json();
      bench::fill f;
      f.room = p.room->name;
      f.self = p.id;
      f.bench = tag_text;
      send_frame(p, websocket::opcode::text, speech.encode(outbound_kind::bye, f));
    }
  }
  send_frame(p, websocket::opcode::close, websocket::close_payload(websocket::close_code::normal));
  p.state = peer::phase::leaving;
  schedule(p, now_ns() + 5'000'000'000);
}

}  // namespace sigkit::bench_engine
