#include "websocket_session.hpp"

#include <algorithm>
#include <chrono>

#include "event_loop.hpp"
#include "sigkit/peer_id.hpp"
#include "sigkit/proto/ice_servers.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/websocket/frame.hpp"

namespace sigkit::server {
namespace {

using websocket::opcode;

std::shared_ptr<const std::string> control_frame(opcode op, std::string_view payload) {
  return std::make_shared<const std::string>(websocket::server_frame(op, payload));
}

const std::shared_ptr<const std::string>& ping_frame() {
  static const auto frame = control_frame(opcode::ping, {});
  return frame;
}

rooms::member self(const event_loop& loop, const connection& c) {
  return {c.peer, loop.handle_of(c), c.grant ? c.grant->claims.sub : std::string()};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The loop tick at which a token's `exp` passes.
std::uint32_t expiry_tick(const event_loop& loop, std::int64_t exp) {
  auto left = std::clamp<std::int64_t>(exp - unix_now(), 0, 7 * 24 * 3600);  // re-checked when it fires
  return loop.now() + loop.ticks(std::chrono::seconds(left));
}


// An answer that needs no hub: a decode error, or the rate limit.
void answer_locally(event_loop& loop, connection& c, rooms::outcome o) {
  auto me = loop.handle_of(c);
  for (auto& d : o.deliveries) loop.deliver(d.to, std::move(d.frame));
  o.deliveries.clear();
  loop.settle(me, o);
}

// Leaves the room, if in one; the others hear peer-left now.
void depart(event_loop& loop, connection& c) {
  if (c.room.empty()) return;
  // Cleared first, so the settlement of the departure is told from a `leave`.
  std::string room = std::move(c.room);
  c.room.clear();
  loop.state().rooms->disconnect(self(loop, c), room, loop);
}

// refresh (1.1): a new token for the same `sub` replaces the old one; any
// failure leaves the old one in place (decisions.md) and answers forbidden.
void refresh(event_loop& loop, connection& c, const proto::client_message& m) {
  auto& st = loop.state();
  auto refuse = [&](std::string why) {
    answer_locally(loop, c, rooms::refuse(self(loop, c), proto::error_code::forbidden, why, m.rid_json));
  };
  if (!st.token_keys || !c.grant) return refuse("this server does not use tokens");
  auto verified = auth::verify(m.token, *st.token_keys, st.token_rules, unix_now());
  if (!verified) {
    loop.counters().auth_failures[static_cast<std::size_t>(verified.error())].add();
    return refuse("token refused: " + std::string(auth::to_string(verified.error())));
  }
  if (verified->sub != c.grant->claims.sub) return refuse("the new token is for another user");
  c.grant->claims = std::move(*verified);
  c.grant->expiry_tick = expiry_tick(loop, c.grant->claims.exp);
  loop.counters().messages_sent.add();
  loop.send(c, outbound::text_frame(std::make_shared<const std::string>(
                   proto::encode_refreshed(c.grant->claims.exp, m.rid_json))));
  loop.reschedule(c);
}

void on_text(event_loop& loop, connection& c, std::string_view text) {
  auto& st = loop.state();
  loop.counters().messages_received.add();
  auto decoded = proto::decode(text);
  bool allowed = c.bucket.try_take(st.rate, loop.now_ms());
  if (!decoded) {
    const auto& e = decoded.error();
    answer_locally(loop, c, rooms::refuse(self(loop, c), e.code, e.message, e.rid_json));
    return;
  }
  std::string why;
  if (!allowed)
    why = "more than " + std::to_string(static_cast<long>(st.opts.rate_limit)) + " messages per second; this one was dropped";
  else if (decoded->type == proto::message_type::join && !c.joins.try_take(st.joins, loop.now_ms()))
    why = "more than " + std::to_string(static_cast<long>(st.opts.join_rate)) + " joins per second; this one was dropped";
  if (why.empty()) {
    if (decoded->type == proto::message_type::refresh) return refresh(loop, c, *decoded);
    // The token's `rooms` claim says where it may go.
    if (decoded->type == proto::message_type::join && c.grant && c.room.empty() &&
        !auth::room_allowed(c.grant->claims, decoded->room))
      return answer_locally(loop, c,
                            rooms::refuse(self(loop, c), proto::error_code::forbidden,
                                          "this token does not allow room " + decoded->room, decoded->rid_json));
    // Settled inside handle() by the in-process hub; later by a broker's.
    c.awaiting_hub = c.in_hub_call = true;
    st.rooms->handle(self(loop, c), c.room, *decoded, loop);
    c.in_hub_call = false;
    return;
  }
  // A client that keeps sending past the limit is not worth serving.
  if (st.rate.per_second > 0 && !c.strikes.try_take(st.strikes, loop.now_ms())) {
    loop.warn_limited("rate-limit-close", {{"peer", c.peer}, {"remote", c.remote.to_string()}});
    websocket_session::start_close(loop, c, websocket::close_code::policy, metrics::close_reason::rate_limited);
    return;
  }
  answer_locally(loop, c, rooms::refuse(self(loop, c), proto::error_code::rate_limited, why, decoded->rid_json));
}

// protocol 1.1: the ICE servers, with TURN credentials minted for this
// connection (from the secret: nothing is stored); empty when none are set.
std::string ice_servers_for(const event_loop& loop, const connection& c) {
  const auto& ice = loop.state().opts.ice;
  if (ice.empty()) return {};
  // TURN usernames name the user when there is one (coturn logs them).
  return proto::ice_servers_json(ice, c.grant ? c.grant->claims.sub : c.peer, unix_now());
}

std::uint32_t earliest(std::uint32_t now, std::uint32_t a, std::uint32_t b) {
  // Deadlines as distances from now, so that a wrapped counter still orders right.
  return (a - now) <= (b - now) ? a : b;
}

}  // namespace

void websocket_session::open(event_loop& loop, connection& c, std::string_view accept_key) {
  auto& st = loop.state();
  loop.leave_http(c);
  c.state = connection::phase::websocket;
  c.peer = random_peer_id();
  c.reader = websocket::reader(websocket::role::server, st.opts.max_message_bytes);
  c.opened = c.last_heard = c.last_ping = loop.now();
  c.bucket.start(st.rate, loop.now_ms());
  c.strikes.start(st.strikes, loop.now_ms());
  c.joins.start(st.joins, loop.now_ms());
  // RFC 6455 §4.2.2; no subprotocol and no extension (permessage-deflate is
  // declined by not answering it). The welcome rides in the same write.
  std::string response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: ";
  response += accept_key;
  response += "\r\nServer: ";
  response += st.opts.server_name;
  response += "\r\n\r\n";
  loop.send(c, outbound::raw(std::make_shared<const std::string>(std::move(response))));
  const auto ice_servers = ice_servers_for(loop, c);
  proto::welcome_additions additions;
  if (c.grant) {
    additions.features.push_back("auth");
    additions.user = c.grant->claims.sub;
    c.grant->expiry_tick = expiry_tick(loop, c.grant->claims.exp);
  }
  if (!ice_servers.empty()) additions.features.push_back("ice-servers");
  if (st.opts.room_history > 0) additions.features.push_back("history");
  if (!st.opts.redis_url.empty()) additions.features.push_back("cluster");
  additions.ice_servers_json = ice_servers;
  auto welcome = proto::encode_welcome(c.peer, st.opts.server_name,
                                       {st.opts.ping_interval.count(), st.opts.ping_timeout.count()}, additions);
  loop.counters().messages_sent.add();
  loop.send(c, outbound::text_frame(std::make_shared<const std::string>(std::move(welcome))));
  loop.counters().connections_opened.add();
  if (st.log.enabled(log_level::info)) st.log.info("connect", {{"peer", c.peer}, {"remote", c.remote.to_string()}});
  loop.reschedule(c);
}

std::size_t websocket_session::consume(event_loop& loop, connection& c, std::span<char> bytes) {
  const auto generation = c.generation;
  std::size_t pos = 0;
  for (;;) {
    // A hub that answers later (a broker) holds the sender's next messages
    // until it has: they stay unread, in order.
    if (c.awaiting_hub) return pos;
    std::size_t used = 0;
    auto ev = c.reader.next(bytes.subspan(pos), used);
    pos += used;
    using kind = websocket::reader::event::kind;
    if (ev.what == kind::need_more) return pos;
    c.last_heard = loop.now();
    switch (ev.what) {
      case kind::message:
        if (c.state != connection::phase::websocket) break;  // closing: what is in flight does not count
        if (ev.type != opcode::text) {
          start_close(loop, c, websocket::close_code::unsupported_data, metrics::close_reason::binary_frame);
          return bytes.size();
        }
        on_text(loop, c, ev.payload);
        if (c.generation != generation || c.state == connection::phase::free) return 0;
        break;
      case kind::ping:
        if (c.state == connection::phase::websocket) loop.send(c, outbound::raw(control_frame(opcode::pong, ev.payload)));
        break;
      case kind::pong:
        break;
      case kind::close:
        if (c.state == connection::phase::closing) {  // the answer to ours: done
          loop.close_now(c);
          return 0;
        }
        // RFC 6455 §5.5.1: answer with a close frame (echoing the code),
        // then the server closes the TCP connection first (§7.1.1).
        c.set_reason(metrics::close_reason::client_close);
        depart(loop, c);
        loop.send(c, outbound::raw(control_frame(
                         opcode::close, ev.code == websocket::close_code::no_status
                                            ? std::string()
                                            : websocket::close_payload(ev.code))));
        c.state = connection::phase::closing;
        c.phase_since = loop.now();
        c.close_when_flushed = true;
        loop.reschedule(c);
        return bytes.size();
      case kind::fail:
        start_close(loop, c, ev.code,
                    ev.code == websocket::close_code::too_big ? metrics::close_reason::message_too_big
                                                              : metrics::close_reason::protocol_error);
        return bytes.size();
      case kind::need_more:
        break;
    }
  }
}

void websocket_session::on_eof(event_loop& loop, connection& c) {
  // Gone without a close frame (or half-closed while we could not write to
  // it): nothing it holds is kept a moment longer.
  c.set_reason(metrics::close_reason::network_error);
  loop.close_now(c);
}

void websocket_session::on_deadline(event_loop& loop, connection& c) {
  const auto& o = loop.state().opts;
  const auto now = loop.now();
  if (now - c.last_heard >= loop.ticks(o.ping_timeout)) {
    // A peer that does not answer pings will not answer a close frame.
    c.set_reason(metrics::close_reason::heartbeat_timeout);
    if (loop.state().log.enabled(log_level::info)) loop.state().log.info("heartbeat-timeout", {{"peer", c.peer}});
    loop.close_now(c);
    return;
  }
  if (c.grant && static_cast<std::int32_t>(now - c.grant->expiry_tick) >= 0) {
    if (c.grant->claims.exp > unix_now()) {
      c.grant->expiry_tick = expiry_tick(loop, c.grant->claims.exp);  // a long-lived token: not yet
    } else {
      // protocol 1.1: say so, then close with 1008.
      answer_locally(loop, c,
                     rooms::refuse(self(loop, c), proto::error_code::token_expired,
                                   "the token expired; connect again with a new one", ""));
      start_close(loop, c, websocket::close_code::policy, metrics::close_reason::token_expired);
      return;
    }
  }
  if (c.out.rest && now - c.stalled_since >= loop.ticks(o.write_timeout)) {
    loop.warn_limited("write-timeout", {{"peer", c.peer}, {"queued_bytes", std::uint64_t{c.out.queued}}});
    drop(loop, c, websocket::close_code::policy, metrics::close_reason::write_timeout);
    return;
  }
  if (o.ping_interval.count() > 0 && now - c.last_ping >= loop.ticks(o.ping_interval)) {
    c.last_ping = now;
    // A peer whose queue is stuck gets no more bytes, pings included; the
    // write deadline decides its fate.
    if (!c.out.rest) loop.send(c, outbound::raw(ping_frame()));
  }
}

std::uint32_t websocket_session::deadline(const event_loop& loop, const connection& c) noexcept {
  const auto& o = loop.state().opts;
  const auto now = loop.now();
  std::uint32_t due = c.last_heard + loop.ticks(o.ping_timeout);
  if (o.ping_interval.count() > 0) due = earliest(now, due, c.last_ping + loop.ticks(o.ping_interval));
  if (c.out.rest) due = earliest(now, due, c.stalled_since + loop.ticks(o.write_timeout));
  if (c.grant) due = earliest(now, due, c.grant->expiry_tick);
  return due;
}

void websocket_session::start_close(event_loop& loop, connection& c, std::uint16_t code, metrics::close_reason reason) {
  if (c.state != connection::phase::websocket) return;
  c.set_reason(reason);
  depart(loop, c);
  loop.send(c, outbound::raw(control_frame(opcode::close, websocket::close_payload(code))));
  c.state = connection::phase::closing;
  c.phase_since = loop.now();
  loop.reschedule(c);
}

void websocket_session::drop(event_loop& loop, connection& c, std::uint16_t code, metrics::close_reason reason) {
  c.set_reason(reason);
  depart(loop, c);
  // Say why if the socket takes it at once, and only when nothing was left
  // half-written: half a frame followed by a close frame would garble the stream.
  if (!c.out.rest) loop.send_now(c, websocket::server_frame(opcode::close, websocket::close_payload(code)));
  loop.close_now(c);
}

void websocket_session::on_settled(event_loop& loop, connection& c, const rooms::outcome& outcome) {
  auto& st = loop.state();
  if (c.awaiting_hub) {
    c.awaiting_hub = false;
    // An answer that came later: what arrived meanwhile is read now, in order.
    if (!c.in_hub_call) loop.resume_input(c);
  }
  auto& counters = loop.counters();
  if (outcome.joined) {
    c.room = *outcome.joined;
    counters.joins.add();
    loop.note_join_read(loop.now_time());
    if (st.log.enabled(log_level::info)) st.log.info("join", {{"peer", c.peer}, {"room", c.room}});
  }
  if (outcome.left && !c.room.empty()) {  // a `leave` (a departure cleared the room already)
    if (st.log.enabled(log_level::info)) st.log.info("leave", {{"peer", c.peer}, {"room", c.room}});
    c.room.clear();
  }
  if (outcome.relayed) counters.relayed[static_cast<std::size_t>(*outcome.relayed)].add();
  if (outcome.error) {
    counters.errors[static_cast<std::size_t>(*outcome.error)].add();
    auto level = *outcome.error == proto::error_code::rate_limited ? log_level::debug : log_level::info;
    if (st.log.enabled(level)) st.log.write(level, "error", {{"peer", c.peer}, {"code", proto::to_string(*outcome.error)}});
  }
}

void websocket_session::finish(event_loop& loop, connection& c) {
  auto& st = loop.state();
  depart(loop, c);
  if (c.address_counted) st.addresses.release(c.remote.ip(), server_state::now_ms());
  st.websockets.fetch_sub(1, std::memory_order_relaxed);
  loop.counters().connections_closed.add();
  loop.counters().closes[static_cast<std::size_t>(c.reason)].add();
  if (st.log.enabled(log_level::info))
    st.log.info("close", {{"peer", c.peer}, {"reason", metrics::to_string(c.reason)}, {"seconds", loop.seconds_since(c.opened)}});
}

}  // namespace sigkit::server
