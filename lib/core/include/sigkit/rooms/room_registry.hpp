// Who is in which room, and who gets what. A pure state machine: it takes a
// decoded client message and answers with the frames to send and to whom. The
// server executes those deliveries in order; ordering and isolation follow from
// applying one decision at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sigkit/proto/message.hpp"

namespace sigkit::rooms {

using peer_id = std::string;

struct delivery {
  peer_id to;
  // Shared so that a broadcast encodes its frame once for every receiver.
  std::shared_ptr<const std::string> frame;
};

struct outcome {
  std::vector<delivery> deliveries;        // in the order they must be sent
  std::optional<proto::error_code> error;  // set when the sender got an `error`
};

class room_registry {
 public:
  // capacity 0 means rooms of any size.
  explicit room_registry(std::size_t capacity);

  // Applies one message from `sender` (a connected peer).
  outcome handle(const peer_id& sender, const proto::client_message& message);

  // The sender's connection is gone (close, timeout, overflow): the others
  // in its room are told with `peer-left`, the last message about it.
  outcome disconnect(const peer_id& peer);

  // A reply to a message the registry never saw (decode failure, rate limit).
  static outcome refuse(const peer_id& sender, proto::error_code code, std::string_view why,
                        std::string_view rid_json);

  std::size_t room_count() const noexcept { return rooms_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }
  // Members of a room, oldest first; empty if the room does not exist.
  std::vector<peer_id> members(std::string_view room) const;
  std::optional<std::string> room_of(const peer_id& peer) const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  template <class V>
  using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

  outcome join(const peer_id& sender, const proto::client_message& message);
  outcome leave(const peer_id& sender, const proto::client_message& message);
  outcome relay(const peer_id& sender, const proto::client_message& message);
  // Removes the peer from its room; returns the room's name and who remains.
  std::optional<std::pair<std::string, std::vector<peer_id>>> remove(const peer_id& peer);

  std::size_t capacity_;
  string_map<std::vector<peer_id>> rooms_;  // members oldest first
  string_map<std::string> room_of_;         // peer -> room, only for peers in a room
};

}  // namespace sigkit::rooms
