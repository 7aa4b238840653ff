// Who is in which room, and who gets what. A pure state machine: it takes a
// decoded client message and answers with the frames to send and to whom. The
// server executes those deliveries in order; ordering and isolation follow from
// applying one decision at a time.
//
// The registry knows rooms and their members; each member's own connection
// knows which room it is in and states it with every call (a sharded server
// keeps a room in one shard, so only the connection can say which shard to
// ask). A member is addressed by an opaque handle the server chooses, so a
// delivery needs no lookup by id.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sigkit/proto/message.hpp"

namespace sigkit::rooms {

using peer_id = std::string;
using member_handle = std::uint64_t;  // the server's address for a connection

struct member {
  peer_id id;
  member_handle handle = 0;
  std::string user;  // the token's subject when authenticated (1.1), else empty
};

struct delivery {
  member_handle to;
  // Shared so that a broadcast encodes its frame once for every receiver.
  std::shared_ptr<const std::string> frame;
};

struct outcome {
  std::vector<delivery> deliveries;        // in the order they must be sent
  std::optional<proto::error_code> error;  // set when the sender got an `error`
  std::optional<std::string> joined;       // the room the sender has just joined
  bool left = false;                       // the sender is no longer in its room
  std::optional<proto::message_type> relayed;  // a relay that reached its receivers
  std::optional<std::string> kept;         // room history: the entry this relay added (with `from` and `ts`)
  int rooms_delta = 0;                     // +1 a room was created, -1 one ceased to exist
};

// A reply to a message the registry never saw (decode failure, rate limit).
outcome refuse(const member& sender, proto::error_code code, std::string_view why,
               std::string_view rid_json);

// The answer to a message that needs no room state, or nullopt when it does:
// ping, and the refusals that follow from the sender's own membership (join
// while in a room, leave or relay while in none).
std::optional<outcome> answer_without_rooms(const member& sender, std::string_view current_room,
                                            const proto::client_message& message);

class room_registry {
 public:
  // capacity 0 means rooms of any size. With history > 0 each room keeps
  // its last `history` broadcast `message` relays (protocol 1.1, "Room
  // history"), stamped with `clock()` (ms since the epoch), for as long as
  // it has members, and every `joined` carries them.
  using clock_ms = std::int64_t (*)();
  explicit room_registry(std::size_t capacity, std::size_t history = 0, clock_ms clock = nullptr);

  // Applies one message from `sender`, who is in `current_room` (empty for
  // none) of this registry.
  outcome handle(const member& sender, std::string_view current_room, const proto::client_message& message);

  // The sender's connection is gone (close, timeout, overflow): the others
  // in its room are told with `peer-left`, the last message about it.
  outcome disconnect(const member& sender, std::string_view current_room);

  std::size_t room_count() const noexcept { return rooms_.size(); }
  // A room's history as another source has it (a broker shared by several
  // instances), oldest first: it replaces what this registry kept.
  void set_history(std::string_view room, std::vector<std::string> entries);
  std::size_t capacity() const noexcept { return capacity_; }
  // Members of a room, oldest first; empty if the room does not exist.
  std::vector<member> members(std::string_view room) const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  using room_map = std::unordered_map<std::string, std::vector<member>, string_hash, std::equal_to<>>;

  outcome join(const member& sender, const proto::client_message& message);
  outcome leave(const member& sender, std::string_view room, const proto::client_message& message);
  outcome relay(const member& sender, std::string_view room, const proto::client_message& message);
  // Removes the sender from `room`; nullopt if it was not there.
  std::optional<std::vector<member>> remove(const member& sender, std::string_view room, int& rooms_delta);

  std::size_t capacity_;
  std::size_t history_;
  clock_ms clock_;
  room_map rooms_;  // members oldest first
  std::unordered_map<std::string, std::vector<std::string>, string_hash, std::equal_to<>> kept_;  // oldest first
};

}  // namespace sigkit::rooms
