#include "redis_hub.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.hpp"
#include "event_loop.hpp"
#include "server_state.hpp"
#include "sigkit/cluster/envelope.hpp"
#include "sigkit/metrics/histogram.hpp"
#include "sigkit/redis/connection.hpp"
#include "sigkit/redis/subscriber.hpp"
#include "websocket_session.hpp"

namespace sigkit::server {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using cluster::envelope;

namespace {

constexpr auto lease_ttl = 5000ms;
constexpr auto tick = 1000ms;  // lease renewal, sweep, probe
constexpr rooms::member_handle replica_bit = rooms::member_handle{1} << 63;
const std::string prefix = "sigkit:";

std::string room_key(std::string_view room) { return prefix + "room:" + std::string(room); }
std::string peers_key(std::string_view room) { return prefix + "room:" + std::string(room) + ":peers"; }
std::string members_key(std::string_view instance) { return prefix + "instance:" + std::string(instance) + ":members"; }
std::string lease_key(std::string_view instance) { return prefix + "lease:" + std::string(instance); }
std::string inbox(std::string_view instance) { return prefix + "inbox:" + std::string(instance); }
std::string history_key(std::string_view room) { return prefix + "history:" + std::string(room); }
const std::string instances_key = prefix + "instances";
const std::string epoch_key = prefix + "epoch";

// KEYS: room, room's peers, this instance's members, room's history. ARGV:
// peer, instance, user, join time (µs), capacity (0: none), room, history
// kept (0: none). The capacity is checked in the same atomic step that adds
// the member. Returns {'full'}, or {'ok', n, n peers oldest first, their n
// "instance\nuser", then the history oldest first}.
const redis::script join_script(R"lua(
local capacity = tonumber(ARGV[5])
if capacity > 0 and redis.call('ZCARD', KEYS[1]) >= capacity then return {'full'} end
local peers = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {'ok', #peers}
for _, peer in ipairs(peers) do out[#out + 1] = peer end
for _, peer in ipairs(peers) do out[#out + 1] = redis.call('HGET', KEYS[2], peer) or '' end
local keep = tonumber(ARGV[7])
if keep > 0 then
  redis.call('PERSIST', KEYS[4])
  local entries = redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', keep)
  for i = #entries, 1, -1 do out[#out + 1] = entries[i][2][2] end
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '\n' .. ARGV[3])
redis.call('SADD', KEYS[3], ARGV[6] .. '\n' .. ARGV[1])
return out
)lua");

// KEYS: room, room's peers, the instance's members, room's history. ARGV:
// peer, room, how long the history outlives the room (ms).
const redis::script leave_script(R"lua(
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[2] .. '\n' .. ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('PEXPIRE', KEYS[4], ARGV[3]) end
return 1
)lua");

// A member put back as it was (Redis lost it): no capacity check, its
// original join time. Same KEYS and ARGV as join.
const redis::script reassert_script(R"lua(
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '\n' .. ARGV[3])
redis.call('SADD', KEYS[3], ARGV[6] .. '\n' .. ARGV[1])
return 1
)lua");

// KEYS: the lease, the instances. ARGV: instance, TTL (ms). 1: renewed;
// 0: it had expired (and the instance may have been swept).
const redis::script renew_script(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
)lua");

// KEYS: the instance's lease, its members, the instances. ARGV: instance,
// key prefix, how long a history outlives its room (ms). Removes every member of an instance whose lease expired, and
// the instance; returns room, peer, room, peer, ... of those removed (nothing
// if the lease is alive after all).
const redis::script sweep_script(R"lua(
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local out = {}
for _, entry in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local at = string.find(entry, '\n', 1, true)
  if at then
    local room, peer = string.sub(entry, 1, at - 1), string.sub(entry, at + 1)
    redis.call('ZREM', ARGV[2] .. 'room:' .. room, peer)
    redis.call('HDEL', ARGV[2] .. 'room:' .. room .. ':peers', peer)
    if redis.call('ZCARD', ARGV[2] .. 'room:' .. room) == 0 then
      redis.call('PEXPIRE', ARGV[2] .. 'history:' .. room, ARGV[3])
    end
    out[#out + 1] = room
    out[#out + 1] = peer
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return out
)lua");

// KEYS: room, room's peers. ARGV: the asking instance, room, its inbox.
// Publishes the room's members (a roster envelope, see envelope.hpp) into the
// asking instance's own inbox, so that the roster takes its place among the
// notices other instances send there exactly as Redis ordered them: what was
// published before it is in it, what comes after it changed it. Returns
// PUBLISH's count of subscribers (0: the inbox was not listening).
const redis::script roster_script(R"lua(
local parts = {}
for _, peer in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local info = redis.call('HGET', KEYS[2], peer)
  if info then
    parts[#parts + 1] = cjson.encode(peer)
    parts[#parts + 1] = cjson.encode(info)
  end
end
local header = cjson.encode({k = 'S', i = ARGV[1], s = 0, t = 0, r = ARGV[2]})
return redis.call('PUBLISH', ARGV[3], header .. '\n[' .. table.concat(parts, ',') .. ']')
)lua");

std::string random_hex(std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::random_device seed;
  std::mt19937_64 random(seed());
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += digits[random() % 16];
  return out;
}

std::int64_t wall_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t wall_ms() { return wall_us() / 1000; }

}  // namespace

// Callbacks hold a plain pointer to the impl, never a share of it (a share
// kept in its own connections' handlers would keep it alive for ever): it
// outlives them all, since stop() joins the hub thread before it goes, and
// the loops that run the closures it posts have stopped before that.
struct redis_hub::impl {
  impl(server_state& s, redis::endpoint where)
      : state(s),
        id(random_hex(12)),
        commands(io, where, client_options(s.opts, "sigserve-" + id)),
        inbox_sub(io, where, client_options(s.opts, "sigserve-" + id + "-inbox")),
        ticker(io),
        view(0, s.opts.room_history) {}

  static redis::options client_options(const options& opts, std::string name) {
    redis::options o;
    o.client_name = std::move(name);
    o.tls = {opts.redis_ca_file, opts.redis_cert, opts.redis_key};
    return o;
  }

  // --- the threads' meeting points ------------------------------------------

  server_state& state;
  const std::string id;
  asio::io_context io{1};
  redis::connection commands;
  redis::subscriber inbox_sub;
  asio::steady_timer ticker;
  std::thread thread;

  // Read by other threads (/readyz, /metrics).
  std::atomic<bool> commands_up{false}, inbox_up{false}, lease_held{false};
  std::atomic<std::int64_t> joins_allowed_from_ms{0};  // after Redis came back empty
  std::atomic<std::int64_t> rooms_held{0};
  std::atomic<std::uint64_t> reconnects{0}, probe_failures{0}, sequence_gaps{0}, relays_out{0}, relays_in{0},
      swept{0}, unavailable{0}, leases_lost{0}, roster_repairs{0}, relays_bounced{0};
  mutable std::mutex latency_mutex;
  metrics::latency_histogram relay_latency;  // cross-instance, by the wall clocks of both instances

  // --- the hub thread's own ------------------------------------------------

  rooms::room_registry view;  // capacity is Redis' to enforce
  struct local_member {
    rooms::member who;
    std::string room;
    std::int64_t join_us = 0;
  };
  std::unordered_map<std::string, local_member> locals;  // by peer id
  std::unordered_map<std::string, std::size_t> locals_in_room;
  struct replica {
    std::string instance, peer, room;
  };
  std::unordered_map<rooms::member_handle, replica> replicas;
  std::unordered_map<std::string, rooms::member_handle> replica_by_peer;
  rooms::member_handle next_replica = replica_bit | 1;
  std::unordered_map<std::string, std::uint64_t> sent_to;  // envelopes per receiving instance
  // Rooms with a join of ours at Redis: what other instances say of them
  // meanwhile waits for its answer (see on_envelope).
  std::unordered_map<std::string, std::size_t> joins_pending;
  std::unordered_map<std::string, std::vector<envelope>> early_notices;
  // Rooms to read again from Redis (see want_rosters), each with the count
  // of reasons it was wanted; and the count each roster asked for covers.
  std::unordered_map<std::string, std::uint64_t> rosters_wanted, rosters_asked;
  cluster::sequence_tracker heard;
  std::optional<std::string> epoch;  // of the Redis this instance registered with
  bool registered = false;
  bool ever_connected = false;
  bool ever_registered = false;
  std::string unreachable_said;  // the last reason logged, until connected again
  std::int64_t probe_sent_ms = 0;  // 0: none outstanding

  // --- start and stop --------------------------------------------------------

  void start() {
    commands.on_state([self = this](bool up) { self->on_commands_state(up); });
    inbox_sub.on_state([self = this](bool up) {
      self->inbox_up = up;
      if (!up) return self->state.log.warn("broker-inbox-lost", {{"error", self->inbox_sub.last_error()}});
      // What was sent to us while we were not listening is lost.
      self->want_rosters();
    });
    inbox_sub.on_message([self = this](std::string_view, std::string payload) {
      self->on_envelope(payload);
    });
    inbox_sub.subscribe(inbox(id));
    commands.start();
    inbox_sub.start();
    schedule_tick();
    thread = std::thread([this] { io.run(); });
    state.log.info("cluster", {{"instance", id}});
  }

  void stop() {
    if (!thread.joinable()) return;
    // Leave the cluster at once rather than after a lease: the others sweep
    // nothing of ours (our members left as their connections closed).
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    asio::post(io, [this, done] {
      ticker.cancel();
      if (!commands.connected()) return done->set_value();
      commands.command({"DEL", lease_key(id)}, [](std::error_code, resp::value) {});
      commands.command({"SREM", instances_key, id}, [done](std::error_code, resp::value) { done->set_value(); });
    });
    finished.wait_for(1s);
    io.stop();
    thread.join();
  }

  // --- from the loops ----------------------------------------------------------

  void request(const rooms::member& sender, std::string room, proto::client_message message) {
    asio::post(io, [self = this, sender, room = std::move(room), message = std::move(message)] {
      self->decide(sender, room, message);
    });
  }

  void departed(const rooms::member& sender, std::string room) {
    asio::post(io, [self = this, sender, room = std::move(room)] { self->on_departed(sender, room); });
  }

  // --- decisions (hub thread) --------------------------------------------------

  void decide(const rooms::member& sender, const std::string& room, const proto::client_message& m) {
    switch (m.type) {
      case proto::message_type::join: return join(sender, m);
      case proto::message_type::leave: return leave(sender, room, m);
      default: return relay(sender, room, m);
    }
  }

  std::optional<std::string> joins_refused_because() const {
    if (!commands_up || !inbox_up) return "the broker cannot be reached";
    if (!lease_held) return "this instance is registering with the broker";
    if (wall_ms() < joins_allowed_from_ms) return "the broker restarted; rooms are being restored";
    return std::nullopt;
  }

  void refuse(const rooms::member& sender, proto::error_code code, const std::string& why,
              const proto::client_message& m) {
    if (code == proto::error_code::unavailable) ++unavailable;
    settle_with(sender, rooms::refuse(sender, code, why, m.rid_json));
  }

  void join(const rooms::member& sender, const proto::client_message& m) {
    if (auto why = joins_refused_because()) return refuse(sender, proto::error_code::unavailable, *why, m);
    auto join_us = wall_us();
    ++joins_pending[m.room];
    commands.eval(join_script, {room_key(m.room), peers_key(m.room), members_key(id), history_key(m.room)},
                  {sender.id, id, sender.user, std::to_string(join_us),
                   std::to_string(state.opts.room_capacity), m.room, std::to_string(state.opts.room_history)},
                  [self = this, sender, m, join_us](std::error_code ec, resp::value reply) {
                    self->joined(sender, m, join_us, ec, reply);
                  });
  }

  void joined(const rooms::member& sender, const proto::client_message& m, std::int64_t join_us,
              std::error_code ec, const resp::value& reply) {
    join_answered(sender, m, join_us, ec, reply);
    // Then what was said of the room while the join was out.
    if (--joins_pending[m.room] > 0) return;
    joins_pending.erase(m.room);
    auto early = early_notices.find(m.room);
    if (early == early_notices.end()) return;
    auto notices = std::move(early->second);
    early_notices.erase(early);
    std::vector<rooms::delivery> out;
    for (auto& e : notices) apply_notice(e, out);
    post_deliveries(out);
  }

  void join_answered(const rooms::member& sender, const proto::client_message& m, std::int64_t join_us,
                     std::error_code ec, const resp::value& reply) {
    if (ec || reply.what != resp::kind::array || reply.elements.empty() || !reply.elements[0].is_string()) {
      state.log.warn("broker-join-failed", {{"error", ec ? ec.message() : resp::to_string(reply)}});
      return refuse(sender, proto::error_code::unavailable, "the broker did not answer", m);
    }
    if (reply.elements[0].text == "full")
      return refuse(sender, proto::error_code::room_full, "room " + m.room + " is full", m);
    // ok, n, n peers, n "instance\nuser", then the history.
    const auto& e = reply.elements;
    const std::size_t n = e.size() > 1 && e[1].what == resp::kind::integer ? static_cast<std::size_t>(e[1].integer) : 0;
    if (e.size() < 2 + 2 * n) return refuse(sender, proto::error_code::unavailable, "the broker's answer was cut", m);
    std::vector<rooms::delivery> out;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& peer = e[2 + i].text;
      const auto& info = e[2 + n + i].text;
      auto nl = info.find('\n');
      if (nl == std::string::npos || info.compare(0, nl, id) == 0) continue;  // ours: known already
      add_replica(info.substr(0, nl), peer, info.substr(nl + 1), m.room, out);
    }
    if (state.opts.room_history > 0) {
      std::vector<std::string> history;
      for (std::size_t i = 2 + 2 * n; i < e.size(); ++i) history.push_back(e[i].text);
      view.set_history(m.room, std::move(history));
    }
    auto outcome = view.handle(sender, "", m);
    locals[sender.id] = {sender, m.room, join_us};
    if (++locals_in_room[m.room] == 1) rooms_held.fetch_add(1);
    // The joiner's `joined` (and the local members' `peer-joined`) first,
    // then the other instances hear of it.
    keep_local(outcome.deliveries, out);
    outcome.deliveries = std::move(out);
    settle_with(sender, std::move(outcome));
    envelope notice;
    notice.what = envelope::kind::joined;
    notice.room = m.room;
    notice.peer = sender.id;
    notice.user = sender.user;
    notice.join_us = join_us;
    for (const auto& instance : instances_in(m.room)) publish(instance, notice);
  }

  void leave(const rooms::member& sender, const std::string& room, const proto::client_message& m) {
    auto others = instances_in(room);
    auto outcome = view.handle(sender, room, m);
    std::vector<rooms::delivery> out;
    keep_local(outcome.deliveries, out);
    outcome.deliveries = std::move(out);
    const bool left = outcome.left;
    settle_with(sender, std::move(outcome));
    if (left) forget_local(sender, room, others);
  }

  void on_departed(const rooms::member& sender, const std::string& room) {
    auto it = locals.find(sender.id);
    if (it == locals.end() || it->second.room != room) return;
    auto others = instances_in(room);
    auto outcome = view.disconnect(sender, room);
    std::vector<rooms::delivery> out;
    keep_local(outcome.deliveries, out);
    post_deliveries(out);
    forget_local(sender, room, others);
  }

  void forget_local(const rooms::member& sender, const std::string& room, const std::set<std::string>& others) {
    locals.erase(sender.id);
    // Redis first, then the notice: a roster (see want_rosters) read in
    // between then still lists the member, and the notice that follows it
    // takes the member out.
    commands.eval(leave_script, {room_key(room), peers_key(room), members_key(id), history_key(room)},
                  {sender.id, room, std::to_string(state.opts.room_history_ttl.count())},
                  [](std::error_code, resp::value) {});  // if lost, the reconciliation on reconnect removes it
    envelope notice;
    notice.what = envelope::kind::left;
    notice.room = room;
    notice.peer = sender.id;
    for (const auto& instance : others) publish(instance, notice);
    if (--locals_in_room[room] == 0) {
      locals_in_room.erase(room);
      rooms_held.fetch_sub(1);
      // No member of ours is left to care about the others in this room.
      for (auto r = replicas.begin(); r != replicas.end();) {
        if (r->second.room != room) {
          ++r;
          continue;
        }
        view.disconnect({r->second.peer, r->first, {}}, room);
        replica_by_peer.erase(r->second.peer);
        r = replicas.erase(r);
      }
    }
  }

  void relay(const rooms::member& sender, const std::string& room, const proto::client_message& m) {
    auto outcome = view.handle(sender, room, m);
    std::map<std::string, std::pair<std::vector<std::string>, std::shared_ptr<const std::string>>> remote;
    std::vector<rooms::delivery> out;
    for (auto& d : outcome.deliveries) {
      if (!(d.to & replica_bit)) {
        out.push_back(std::move(d));
        continue;
      }
      auto r = replicas.find(d.to);
      if (r == replicas.end()) continue;
      auto& [receivers, frame] = remote[r->second.instance];
      receivers.push_back(r->second.peer);
      frame = d.frame;
    }
    if (!remote.empty() && !commands_up)
      return refuse(sender, proto::error_code::unavailable,
                    "members of this room are on other instances and the broker cannot be reached", m);
    if (outcome.kept)
      commands.command({"XADD", history_key(room), "MAXLEN", "~", std::to_string(state.opts.room_history), "*", "e",
                        *outcome.kept},
                       [](std::error_code, resp::value) {});
    outcome.deliveries = std::move(out);
    settle_with(sender, std::move(outcome));
    for (auto& [instance, what] : remote) {
      envelope e;
      e.what = envelope::kind::relay;
      e.room = room;
      e.peer = sender.id;
      e.receivers = std::move(what.first);
      e.frame = *what.second;
      e.directed = m.to.has_value();
      e.rid = m.rid_json;
      // The sender learns of a relay that reached nobody, as it would of one
      // refused here: it may send it again.
      publish(instance, e, [this, sender, rid = m.rid_json] {
        ++unavailable;
        std::vector<rooms::delivery> told{{sender.handle, std::make_shared<const std::string>(proto::encode_error(
                                                              proto::error_code::unavailable,
                                                              "the instance of its receiver could not be reached", rid))}};
        post_deliveries(told);
      });
      ++relays_out;
    }
  }

  // --- what other instances say (hub thread) ---------------------------------

  void on_envelope(const std::string& payload) {
    auto e = cluster::decode(payload);
    if (!e) return;
    if (e->from == id) {
      if (e->what == envelope::kind::probe) probe_sent_ms = 0;
      if (e->what != envelope::kind::roster) return;
    } else {
      if (e->what == envelope::kind::probe || e->what == envelope::kind::roster) return;  // not ours to read
      if (auto missing = heard.observe(e->from, e->seq)) {
        sequence_gaps += missing;
        want_rosters();  // the lost one may have been a join or a departure
      }
      if (e->what == envelope::kind::resync) return want_rosters();
    }
    // Replies to our commands and messages on our inbox come on two
    // connections: what another instance says of a room can overtake the
    // reply to our own join of it (a relay to the member who is joining, a
    // departure the join's answer still lists). All of it waits for that
    // answer, in the order it came.
    if (joins_pending.count(e->room)) {
      early_notices[e->room].push_back(std::move(*e));
      return;
    }
    std::vector<rooms::delivery> out;
    apply_notice(*e, out);
    post_deliveries(out);
  }

  void apply_notice(envelope& e, std::vector<rooms::delivery>& out) {
    switch (e.what) {
      case envelope::kind::joined:
        if (locals_in_room.count(e.room)) add_replica(e.from, e.peer, e.user, e.room, out);
        break;
      case envelope::kind::left: drop_replica(e.peer, e.room, out); break;
      case envelope::kind::relay: {
        auto frame = std::make_shared<const std::string>(std::move(e.frame));
        std::vector<std::string> missed;
        for (const auto& receiver : e.receivers) {
          auto it = locals.find(receiver);
          // Only to a member of that very room: an instance's stale view
          // must never carry a message into another room.
          if (it != locals.end() && it->second.room == e.room) out.push_back({it->second.who.handle, frame});
          else missed.push_back(receiver);
        }
        if (!missed.empty()) bounce(e, std::move(missed));
        ++relays_in;
        std::lock_guard lock(latency_mutex);
        relay_latency.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, wall_us() - e.sent_us)) * 1'000);
        break;
      }
      case envelope::kind::bounce: apply_bounce(e, out); break;
      case envelope::kind::roster: apply_roster(e, out); break;
      case envelope::kind::probe:
      case envelope::kind::resync: break;
    }
  }

  // The sender's instance still lists receivers who are not ours in that
  // room any more (their departure was lost on the way): it is told, so that
  // its sender hears `unknown-peer` as it would from one instance.
  void bounce(const envelope& relay, std::vector<std::string> missed) {
    envelope back;
    back.what = envelope::kind::bounce;
    back.room = relay.room;
    back.peer = relay.peer;
    back.receivers = std::move(missed);
    back.directed = relay.directed;
    back.rid = relay.rid;
    publish(relay.from, std::move(back));
  }

  // Our relay missed members of another instance: that instance is the one
  // that knows its own members, so they leave our view of the room now (and
  // its members hear peer-left); a sender who named one is told.
  void apply_bounce(const envelope& e, std::vector<rooms::delivery>& out) {
    ++relays_bounced;
    for (const auto& peer : e.receivers) {
      auto it = replica_by_peer.find(peer);
      if (it == replica_by_peer.end()) continue;
      const auto& r = replicas.at(it->second);
      if (r.instance != e.from || r.room != e.room) continue;
      drop_replica(peer, e.room, out);
      ++roster_repairs;
    }
    auto sender = locals.find(e.peer);
    if (!e.directed || sender == locals.end() || sender->second.room != e.room) return;
    out.push_back({sender->second.who.handle,
                   std::make_shared<const std::string>(proto::encode_error(
                       proto::error_code::unknown_peer, "no peer " + e.receivers.front() + " in room " + e.room, e.rid))});
  }

  // Redis' word on a room, in its place among the notices: the replicas of
  // the room become exactly the members other instances hold in it.
  void apply_roster(const envelope& e, std::vector<rooms::delivery>& out) {
    if (!locals_in_room.count(e.room)) return;
    std::set<std::string> listed;
    for (const auto& m : e.roster)
      if (m.instance != id) listed.insert(m.peer);
    std::vector<std::string> gone;
    for (const auto& m : view.members(e.room))
      if ((m.handle & replica_bit) && !listed.count(m.id)) gone.push_back(m.id);
    for (const auto& peer : gone) drop_replica(peer, e.room, out);
    std::size_t added = 0;
    for (const auto& m : e.roster)
      if (m.instance != id && !known_in(m.peer, e.room)) {
        add_replica(m.instance, m.peer, m.user, e.room, out);
        ++added;
      }
    if (!gone.empty() || added) {
      roster_repairs += gone.size() + added;
      state.log.info("cluster-roster-repaired", {{"room", e.room},
                                                 {"removed", static_cast<std::uint64_t>(gone.size())},
                                                 {"added", static_cast<std::uint64_t>(added)}});
    }
  }

  bool known_in(const std::string& peer, const std::string& room) const {
    if (locals.count(peer)) return true;
    auto it = replica_by_peer.find(peer);
    return it != replica_by_peer.end() && replicas.at(it->second).room == room;
  }

  void add_replica(const std::string& instance, const std::string& peer, const std::string& user,
                   const std::string& room, std::vector<rooms::delivery>& out) {
    if (locals.count(peer)) return;
    if (auto it = replica_by_peer.find(peer); it != replica_by_peer.end()) {
      if (replicas[it->second].room == room) return;
      // In another room still: its departure from there was lost.
      const auto elsewhere = replicas[it->second].room;
      drop_replica(peer, elsewhere, out);
    }
    auto handle = next_replica++;
    replicas[handle] = {instance, peer, room};
    replica_by_peer[peer] = handle;
    proto::client_message join;
    join.type = proto::message_type::join;
    join.room = room;
    auto outcome = view.handle({peer, handle, user}, "", join);
    keep_local(outcome.deliveries, out);
  }

  void drop_replica(const std::string& peer, const std::string& room, std::vector<rooms::delivery>& out) {
    auto it = replica_by_peer.find(peer);
    if (it == replica_by_peer.end() || replicas[it->second].room != room) return;
    auto outcome = view.disconnect({peer, it->second, {}}, room);
    keep_local(outcome.deliveries, out);
    replicas.erase(it->second);
    replica_by_peer.erase(it);
  }

  // The instances (other than this one) with members in a room.
  std::set<std::string> instances_in(const std::string& room) const {
    std::set<std::string> out;
    for (const auto& m : view.members(room))
      if (m.handle & replica_bit)
        if (auto r = replicas.find(m.handle); r != replicas.end()) out.insert(r->second.instance);
    return out;
  }

  static void keep_local(std::vector<rooms::delivery>& from, std::vector<rooms::delivery>& to) {
    for (auto& d : from)
      if (!(d.to & replica_bit)) to.push_back(std::move(d));
  }

  // `undelivered` runs when the envelope certainly reached nobody: the
  // command failed, or Redis counted no subscriber on that inbox (its
  // instance is reconnecting; pub/sub would drop it without a word).
  void publish(const std::string& instance, envelope e, std::function<void()> undelivered = {}) {
    e.from = id;
    e.seq = ++sent_to[instance];
    e.sent_us = wall_us();
    commands.command({"PUBLISH", inbox(instance), cluster::encode(e)},
                     [undelivered = std::move(undelivered)](std::error_code ec, resp::value v) {
                       if (undelivered && (ec || (v.what == resp::kind::integer && v.integer == 0))) undelivered();
                     });
  }

  // --- to the loops ------------------------------------------------------------

  // Each loop gets its frames in one posted pass, in decision order; the
  // sender's settlement rides in its loop's pass, after its frames.
  void settle_with(const rooms::member& sender, rooms::outcome outcome) {
    std::map<unsigned, std::vector<rooms::delivery>> by_loop;
    for (auto& d : outcome.deliveries) by_loop[event_loop::loop_of(d.to)].push_back(std::move(d));
    outcome.deliveries.clear();
    const unsigned home = event_loop::loop_of(sender.handle);
    for (auto& [index, batch] : by_loop)
      if (index != home) post_to_loop(index, std::move(batch));
    auto& frames = by_loop[home];
    auto* loop = loop_at(home);
    if (!loop) return;
    loop->post([self = this, loop, sender, frames = std::move(frames), outcome = std::move(outcome)] {
      auto* c = loop->find(sender.handle);
      if (!c || c->state != connection::phase::websocket) {
        // Gone while its join was with Redis: take it out again.
        if (outcome.joined) self->departed(sender, *outcome.joined);
        return;
      }
      for (const auto& d : frames) loop->deliver(d.to, d.frame);
      loop->settle(sender.handle, outcome);
    });
  }

  void post_deliveries(std::vector<rooms::delivery>& deliveries) {
    std::map<unsigned, std::vector<rooms::delivery>> by_loop;
    for (auto& d : deliveries) by_loop[event_loop::loop_of(d.to)].push_back(std::move(d));
    for (auto& [index, batch] : by_loop) post_to_loop(index, std::move(batch));
  }

  void post_to_loop(unsigned index, std::vector<rooms::delivery> batch) {
    auto* loop = loop_at(index);
    if (!loop || batch.empty()) return;
    loop->post([loop, batch = std::move(batch)] {
      for (const auto& d : batch) loop->deliver(d.to, d.frame);
    });
  }

  event_loop* loop_at(unsigned index) const {
    return index < state.loops.size() ? state.loops[index].get() : nullptr;
  }

  // --- Redis' state and ours (hub thread) ------------------------------------

  void on_commands_state(bool up) {
    commands_up = up;
    if (!up) {
      lease_held = false;
      registered = false;
      state.log.warn("broker-lost", {{"error", commands.last_error()}});
      return;
    }
    if (ever_connected) ++reconnects;
    ever_connected = true;
    unreachable_said.clear();
    state.log.info("broker-connected", {{"instance", id}});
    check_epoch();
  }

  // Redis keeps a random epoch; one that changed (or vanished) means Redis
  // lost its data (a restart without persistence, a failover to an empty
  // replica): our members are put back, and joins wait one lease.
  void check_epoch() {
    auto fresh = random_hex(16);
    commands.command({"SET", epoch_key, fresh, "NX"}, [self = this, fresh](std::error_code, resp::value) {
      self->commands.command({"GET", epoch_key}, [self, fresh](std::error_code ec, resp::value v) {
        if (ec || !v.is_string()) return;
        bool lost = self->epoch && *self->epoch != v.text;
        if (lost || (v.text == fresh && self->epoch)) {
          self->state.log.warn("broker-state-lost", {{"members", static_cast<std::uint64_t>(self->locals.size())}});
          self->joins_allowed_from_ms = wall_ms() + lease_ttl.count();
        }
        self->epoch = v.text;
        self->register_instance();
      });
    });
  }

  void register_instance() {
    commands.command({"SET", lease_key(id), id, "PX", std::to_string(lease_ttl.count())},
                     [self = this](std::error_code ec, resp::value) {
                       if (ec) return;
                       self->commands.command({"SADD", instances_key, self->id}, [](std::error_code, resp::value) {});
                       self->reassert_members();
                       self->registered = true;
                       self->lease_held = true;
                     });
  }

  // What Redis says of our members, made to match what we hold: ours put
  // back (idempotent), ones that left while Redis was away taken out. Then
  // the views are mended both ways: ours read again from Redis, and every
  // other instance told to read its own again, since what we said of our
  // members while away from Redis (and what was said to us) may be lost.
  // One connection runs all of it in order, so a roster read after our
  // resync sees everything above; and of two instances registering at once,
  // the one that lists the instances last reaches the other (see
  // docs/cluster.md).
  void reassert_members() {
    for (const auto& [peer, m] : locals)
      commands.eval(reassert_script, {room_key(m.room), peers_key(m.room), members_key(id)},
                    {peer, id, m.who.user, std::to_string(m.join_us), "0", m.room}, [](std::error_code, resp::value) {});
    commands.command({"SMEMBERS", members_key(id)}, [self = this](std::error_code ec, resp::value v) {
      if (ec || v.what != resp::kind::array) return;
      for (const auto& entry : v.elements) {
        auto nl = entry.text.find('\n');
        if (nl == std::string::npos) continue;
        auto room = entry.text.substr(0, nl), peer = entry.text.substr(nl + 1);
        auto it = self->locals.find(peer);
        if (it == self->locals.end() || it->second.room != room)
          self->commands.eval(leave_script,
                              {room_key(room), peers_key(room), members_key(self->id), history_key(room)},
                              {peer, room, std::to_string(self->state.opts.room_history_ttl.count())},
                              [](std::error_code, resp::value) {});
      }
      self->want_rosters();
      // A first registration has nothing to mend: we told nobody anything.
      if (!std::exchange(self->ever_registered, true)) return;
      self->commands.command({"SMEMBERS", instances_key}, [self](std::error_code ec2, resp::value all) {
        if (ec2 || all.what != resp::kind::array) return;
        envelope resync;
        resync.what = envelope::kind::resync;
        for (const auto& other : all.elements)
          if (other.text != self->id) self->publish(other.text, resync);
      });
    });
  }

  // Every room we hold is read again from Redis (roster_script): after a
  // reconnect, a resync from another instance, or a gap in what one sent us.
  // A room asked for again while its roster is out is asked once more when
  // that one is in, since it may have been read before the reason arose.
  void want_rosters() {
    for (const auto& [room, count] : locals_in_room) ++rosters_wanted[room];
    send_rosters();
  }

  void send_rosters() {
    // Not before we have registered again: only then do we know whether
    // Redis came back empty (check_epoch). If it did, not until the others
    // have put their members back (one lease): a roster would take them out
    // of our rooms, and the clients would see them leave and come back. The
    // tick, or the registration, sends them.
    if (!commands_up || !inbox_up || !registered || wall_ms() < joins_allowed_from_ms) return;
    for (auto it = rosters_wanted.begin(); it != rosters_wanted.end();) {
      const std::string& room = it->first;
      if (!locals_in_room.count(room)) {  // nothing of ours left there to mend
        it = rosters_wanted.erase(it);
        continue;
      }
      if (!rosters_asked.try_emplace(room, it->second).second) {
        ++it;
        continue;
      }
      commands.eval(roster_script, {room_key(room), peers_key(room)}, {id, room, inbox(id)},
                    [self = this, room](std::error_code ec, resp::value v) {
                      auto asked = self->rosters_asked.find(room);
                      if (asked == self->rosters_asked.end()) return;
                      auto covered = asked->second;
                      self->rosters_asked.erase(asked);
                      bool on_its_way = !ec && v.what == resp::kind::integer && v.integer > 0;
                      auto wanted = self->rosters_wanted.find(room);
                      if (!on_its_way || wanted == self->rosters_wanted.end()) return;  // retried on the tick
                      if (wanted->second == covered) return void(self->rosters_wanted.erase(wanted));
                      self->send_rosters();
                    });
      ++it;
    }
  }

  void schedule_tick() {
    ticker.expires_after(tick);
    ticker.async_wait([self = this](const boost::system::error_code& ec) {
      if (ec) return;
      self->on_tick();
      self->schedule_tick();
    });
  }

  void on_tick() {
    if (!commands_up) return report_unreachable();
    if (registered) renew_lease();
    sweep_expired();
    probe_inbox();
    send_rosters();
  }

  // Why Redis cannot be reached, each time the reason changes: the state
  // handler only speaks of a connection that was up, and an instance that
  // never got one (a wrong address, an untrusted certificate) must say why.
  void report_unreachable() {
    const auto& why = commands.last_error();
    if (why.empty() || why == unreachable_said) return;
    unreachable_said = why;
    state.log.warn("broker-unreachable", {{"error", why}});
  }

  void renew_lease() {
    commands.eval(renew_script, {lease_key(id), instances_key}, {id, std::to_string(lease_ttl.count())},
                  [self = this](std::error_code ec, resp::value v) {
                    if (ec == redis::errc::server_error) {
                      // Refused (a replica now, out of memory): the lease runs
                      // out unless this clears, so stop taking traffic now.
                      if (self->lease_held.exchange(false))
                        self->state.log.warn("broker-renew-refused", {{"error", v.text}});
                      return;
                    }
                    if (ec || v.what != resp::kind::integer) return;
                    if (v.integer == 1) {
                      self->lease_held = true;
                      return;
                    }
                    self->lease_lost();
                  });
  }

  // Our lease expired while Redis stayed up (we were paused or cut off): the
  // others may have swept our members already. Never claim them back
  // silently: their clients reconnect and rejoin.
  void lease_lost() {
    ++leases_lost;
    lease_held = false;
    registered = false;
    state.log.warn("broker-lease-lost", {{"members", static_cast<std::uint64_t>(locals.size())}});
    for (const auto& [peer, m] : locals) {
      auto* loop = loop_at(event_loop::loop_of(m.who.handle));
      if (!loop) continue;
      loop->post_to(m.who.handle, [loop](connection& c) {
        websocket_session::start_close(*loop, c, websocket::close_code::service_restart,
                                       metrics::close_reason::lease_lost);
      });
    }
    register_instance();
  }

  void sweep_expired() {
    commands.command({"SMEMBERS", instances_key}, [self = this](std::error_code ec, resp::value v) {
      if (ec || v.what != resp::kind::array) return;
      std::vector<std::string> live;
      for (const auto& i : v.elements) live.push_back(i.text);
      for (const auto& other : live) {
        if (other == self->id) continue;
        self->commands.eval(sweep_script, {lease_key(other), members_key(other), instances_key},
                            {other, prefix, std::to_string(self->state.opts.room_history_ttl.count())},
                            [self, other, live](std::error_code ec2, resp::value removed) {
                              if (ec2 || removed.what != resp::kind::array || removed.elements.empty()) return;
                              self->on_swept(other, removed, live);
                            });
      }
    });
  }

  void on_swept(const std::string& dead, const resp::value& removed, const std::vector<std::string>& live) {
    state.log.warn("broker-swept", {{"instance", dead},
                                    {"members", static_cast<std::uint64_t>(removed.elements.size() / 2)}});
    std::vector<rooms::delivery> out;
    for (std::size_t i = 0; i + 1 < removed.elements.size(); i += 2) {
      const auto& room = removed.elements[i].text;
      const auto& peer = removed.elements[i + 1].text;
      ++swept;
      drop_replica(peer, room, out);
      // Everyone else hears it from us: the dead instance cannot say it.
      envelope notice;
      notice.what = envelope::kind::left;
      notice.room = room;
      notice.peer = peer;
      for (const auto& instance : live)
        if (instance != id && instance != dead) publish(instance, notice);
    }
    post_deliveries(out);
  }

  // A subscription can die without a word: send ourselves a probe each tick
  // and count the ones that did not come back.
  void probe_inbox() {
    if (probe_sent_ms != 0 && wall_ms() - probe_sent_ms > 2 * tick.count()) {
      ++probe_failures;
      state.log.warn("broker-probe-lost", {{"instance", id}});
      probe_sent_ms = 0;
    }
    if (probe_sent_ms != 0 || !inbox_up) return;
    probe_sent_ms = wall_ms();
    envelope e;
    e.what = envelope::kind::probe;
    e.from = id;
    e.sent_us = wall_us();
    commands.command({"PUBLISH", inbox(id), cluster::encode(e)}, [](std::error_code, resp::value) {});
  }
};

redis_hub::redis_hub(server_state& state, const std::string& url) {
  auto where = redis::parse_url(url);
  if (!where) throw std::invalid_argument("--redis: " + where.error());
  try {
    impl_ = std::make_unique<impl>(state, std::move(where.value()));
  } catch (const std::invalid_argument& e) {  // rediss://'s files
    throw std::invalid_argument(std::string("--redis: ") + e.what());
  }
}

redis_hub::~redis_hub() { stop(); }

void redis_hub::start() { impl_->start(); }
void redis_hub::stop() { impl_->stop(); }

void redis_hub::handle(const rooms::member& sender, std::string_view current_room, const proto::client_message& message,
                       hub_sink& sink) {
  // Pings and refusals that follow from the sender's own state need nobody.
  if (auto answer = rooms::answer_without_rooms(sender, current_room, message)) {
    for (auto& d : answer->deliveries) sink.deliver(d.to, std::move(d.frame));
    answer->deliveries.clear();
    sink.settle(sender.handle, *answer);
    return;
  }
  impl_->request(sender, std::string(current_room), message);
}

void redis_hub::disconnect(const rooms::member& sender, std::string_view current_room, hub_sink&) {
  if (!current_room.empty()) impl_->departed(sender, std::string(current_room));
}

std::int64_t redis_hub::room_count() const noexcept { return impl_->rooms_held.load(); }

std::optional<std::string> redis_hub::not_ready() const {
  if (!impl_->commands_up || !impl_->inbox_up) return "broker unreachable";
  if (!impl_->lease_held) return "no broker lease";
  if (wall_ms() < impl_->joins_allowed_from_ms) return "restoring rooms after a broker restart";
  return std::nullopt;
}

void redis_hub::write_metrics(std::string& out) const {
  const auto& i = *impl_;
  auto line = [&](const char* name, const char* type, const char* help, double value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " ";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", value);
    out += buf;
    out += "\n";
  };
  line("sigserve_broker_connected", "gauge", "1 when both broker connections are up and the lease is held",
       i.commands_up && i.inbox_up && i.lease_held ? 1 : 0);
  line("sigserve_broker_reconnects_total", "counter", "Broker connections re-established", i.reconnects.load());
  line("sigserve_broker_probe_failures_total", "counter", "Probes of this instance's own inbox that never came back",
       i.probe_failures.load());
  line("sigserve_broker_leases_lost_total", "counter", "Times this instance found its lease expired",
       i.leases_lost.load());
  line("sigserve_cluster_sequence_gaps_total", "counter", "Envelopes from other instances that never arrived",
       i.sequence_gaps.load());
  line("sigserve_cluster_relays_out_total", "counter", "Relays sent to other instances (one per instance)",
       i.relays_out.load());
  line("sigserve_cluster_relays_in_total", "counter", "Relays received from other instances", i.relays_in.load());
  line("sigserve_cluster_swept_members_total", "counter", "Members of expired instances removed by this one",
       i.swept.load());
  line("sigserve_cluster_unavailable_total", "counter", "Requests answered `unavailable`", i.unavailable.load());
  line("sigserve_cluster_roster_repairs_total", "counter",
       "Members added to or removed from this instance's view of a room when a lost notice was mended",
       i.roster_repairs.load());
  line("sigserve_cluster_relays_bounced_total", "counter",
       "Relays of this instance that another one could not deliver (its receivers had left)", i.relays_bounced.load());
  std::lock_guard lock(i.latency_mutex);
  out += "# HELP sigserve_cluster_relay_latency_seconds Cross-instance relay latency (sender's to receiver's wall clock)\n"
         "# TYPE sigserve_cluster_relay_latency_seconds summary\n";
  for (double q : {0.5, 0.99}) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "sigserve_cluster_relay_latency_seconds{quantile=\"%g\"} %.6f\n", q,
                  i.relay_latency.empty() ? 0.0 : static_cast<double>(i.relay_latency.value_at_percentile(q * 100)) / 1e9);
    out += buf;
  }
  out += "sigserve_cluster_relay_latency_seconds_count " + std::to_string(i.relay_latency.count()) + "\n";
}

}  // namespace sigkit::server
