// The hub of an instance that shares its rooms with other sigserve instances
// through Redis (--redis). Every guarantee of the in-process hub holds across
// instances: capacity is global, `peers` and `peer-joined` span instances,
// relays reach members anywhere, in order per sender.
//
// Where the state is:
//   - Redis holds the truth about membership, changed only by Lua scripts, so
//     that a join checks the global capacity in the same atomic step as it
//     adds the member: a room (ZSET of peer ids by join time, HASH peer ->
//     instance and user), each instance's members (SET), each instance's
//     lease (a key with a TTL, renewed every second) and the instances (SET).
//   - This instance keeps, on its hub thread, a room registry of the rooms
//     it has members in, with the members of other instances as replicas
//     (handles with the top bit set). Decisions are the registry's, as with
//     one instance; what a decision sends to a replica goes to its instance.
//   - Instances talk over one inbox channel each (not a channel per room):
//     envelopes (sigkit/cluster/envelope.hpp) for joins, departures and
//     relays, numbered per receiver so that gaps are seen.
//
// Ordering: one hub thread per instance decides in the order messages came,
// publishes on one connection (Redis keeps the order per publisher and
// subscriber), and hands each loop its frames in one queue; a joiner's
// `joined` is queued before the other instances hear of it, so nothing from
// the room can reach it first.
//
// Failure: an instance whose lease expired (killed, paused, partitioned) is
// swept by the others, whose members get `peer-left`; an instance that finds
// its own lease gone closes its members' connections (1012) and registers
// again. When Redis comes back empty, each instance re-asserts its members
// with their original join times, and joins get `unavailable` for one lease
// so that no room splits between members that do not know of each other.
// While Redis is unreachable, joins get `unavailable`, rooms held by this
// instance alone keep relaying, and relays that would leave it get
// `unavailable`. A notice lost on the way (Redis died with it, an inbox was
// not listening) is mended by reading the rooms again from Redis, in order
// with the notices, and sooner by the bounce of a relay to a member who left;
// docs/cluster.md gives the argument.
#pragma once

#include <memory>

#include "hub.hpp"

namespace sigkit::server {

struct server_state;

class redis_hub final : public hub {
 public:
  // `url`: redis://[[user]:password@]host[:port][/db]; throws
  // std::invalid_argument when it does not parse.
  redis_hub(server_state& state, const std::string& url);
  ~redis_hub() override;

  void handle(const rooms::member& sender, std::string_view current_room, const proto::client_message& message,
              hub_sink& sink) override;
  void disconnect(const rooms::member& sender, std::string_view current_room, hub_sink& sink) override;
  std::int64_t room_count() const noexcept override;
  void start() override;
  void stop() override;
  std::optional<std::string> not_ready() const override;
  void write_metrics(std::string& out) const override;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::server
