#include "sigkit/rooms/room_registry.hpp"

#include <algorithm>

namespace sigkit::rooms {
namespace {

std::shared_ptr<const std::string> frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

room_registry::room_registry(std::size_t capacity) : capacity_(capacity) {}

outcome room_registry::refuse(const peer_id& sender, proto::error_code code, std::string_view why,
                              std::string_view rid_json) {
  outcome result;
  result.deliveries.push_back({sender, frame(proto::encode_error(code, why, rid_json))});
  result.error = code;
  return result;
}

outcome room_registry::handle(const peer_id& sender, const proto::client_message& message) {
  switch (message.type) {
    case proto::message_type::join:
      return join(sender, message);
    case proto::message_type::leave:
      return leave(sender, message);
    case proto::message_type::ping:
      return {{{sender, frame(proto::encode_pong(message.rid_json))}}, std::nullopt};
    default:
      return relay(sender, message);
  }
}

outcome room_registry::join(const peer_id& sender, const proto::client_message& message) {
  if (auto current = room_of_.find(sender); current != room_of_.end())
    return refuse(sender, proto::error_code::already_joined,
                  "already in room " + current->second + "; leave it first", message.rid_json);

  auto& members = rooms_[message.room];
  if (capacity_ != 0 && members.size() >= capacity_) {
    if (members.empty()) rooms_.erase(message.room);  // never leave an empty room behind
    return refuse(sender, proto::error_code::room_full,
                  "room " + message.room + " is full (" + std::to_string(members.size()) + " of " +
                      std::to_string(capacity_) + ")",
                  message.rid_json);
  }

  outcome result;
  // The joiner's `joined` goes out before anything from the others, and the
  // others get `peer-joined` before anything from the joiner: both hold
  // because this decision is applied whole before the next one.
  result.deliveries.push_back(
      {sender, frame(proto::encode_joined(message.room, sender, members, message.rid_json))});
  if (!members.empty()) {
    auto notice = frame(proto::encode_peer_joined(message.room, sender));
    for (const auto& member : members) result.deliveries.push_back({member, notice});
  }
  members.push_back(sender);
  room_of_.emplace(sender, message.room);
  return result;
}

outcome room_registry::leave(const peer_id& sender, const proto::client_message& message) {
  auto removed = remove(sender);
  if (!removed)
    return refuse(sender, proto::error_code::not_in_room, "not in a room", message.rid_json);
  auto& [room, remaining] = *removed;
  outcome result;
  result.deliveries.push_back({sender, frame(proto::encode_left(room, message.rid_json))});
  auto notice = frame(proto::encode_peer_left(room, sender));
  for (auto& member : remaining) result.deliveries.push_back({std::move(member), notice});
  return result;
}

outcome room_registry::relay(const peer_id& sender, const proto::client_message& message) {
  auto room = room_of_.find(sender);
  if (room == room_of_.end())
    return refuse(sender, proto::error_code::not_in_room,
                  std::string(proto::to_string(message.type)) + " needs a room; join one first",
                  message.rid_json);
  const auto& members = rooms_.find(room->second)->second;

  outcome result;
  if (message.to) {
    // Isolation: `to` must name a member of the sender's own room.
    if (std::find(members.begin(), members.end(), *message.to) == members.end())
      return refuse(sender, proto::error_code::unknown_peer,
                    "no peer " + *message.to + " in room " + room->second, message.rid_json);
    result.deliveries.push_back({*message.to, frame(proto::relay_text(message.relay_body, sender))});
    return result;
  }
  auto relayed = frame(proto::relay_text(message.relay_body, sender));
  for (const auto& member : members)
    if (member != sender) result.deliveries.push_back({member, relayed});
  return result;
}

outcome room_registry::disconnect(const peer_id& peer) {
  outcome result;
  if (auto removed = remove(peer)) {
    auto notice = frame(proto::encode_peer_left(removed->first, peer));
    for (auto& member : removed->second) result.deliveries.push_back({std::move(member), notice});
  }
  return result;
}

std::optional<std::pair<std::string, std::vector<peer_id>>> room_registry::remove(
    const peer_id& peer) {
  auto membership = room_of_.find(peer);
  if (membership == room_of_.end()) return std::nullopt;
  std::string room = std::move(membership->second);
  room_of_.erase(membership);

  auto it = rooms_.find(room);
  auto& members = it->second;
  members.erase(std::find(members.begin(), members.end(), peer));
  std::vector<peer_id> remaining = members;
  if (members.empty()) rooms_.erase(it);  // a room with no members ceases to exist
  return std::pair{std::move(room), std::move(remaining)};
}

std::vector<peer_id> room_registry::members(std::string_view room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? std::vector<peer_id>{} : it->second;
}

std::optional<std::string> room_registry::room_of(const peer_id& peer) const {
  auto it = room_of_.find(peer);
  if (it == room_of_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sigkit::rooms
