#include "sigkit/rooms/room_registry.hpp"

#include <chrono>

#include <algorithm>

namespace sigkit::rooms {
namespace {

std::shared_ptr<const std::string> frame(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

}  // namespace

outcome refuse(const member& sender, proto::error_code code, std::string_view why, std::string_view rid_json) {
  outcome result;
  result.deliveries.push_back({sender.handle, frame(proto::encode_error(code, why, rid_json))});
  result.error = code;
  return result;
}

std::optional<outcome> answer_without_rooms(const member& sender, std::string_view current_room,
                                            const proto::client_message& message) {
  using proto::message_type;
  if (message.type == message_type::ping) {
    outcome pong;
    pong.deliveries.push_back({sender.handle, frame(proto::encode_pong(message.rid_json))});
    return pong;
  }
  if (message.type == message_type::join) {
    if (current_room.empty()) return std::nullopt;
    return refuse(sender, proto::error_code::already_joined,
                  "already in room " + std::string(current_room) + "; leave it first", message.rid_json);
  }
  if (!current_room.empty()) return std::nullopt;
  if (message.type == message_type::leave)
    return refuse(sender, proto::error_code::not_in_room, "not in a room", message.rid_json);
  return refuse(sender, proto::error_code::not_in_room,
                std::string(proto::to_string(message.type)) + " needs a room; join one first", message.rid_json);
}

namespace {
std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

room_registry::room_registry(std::size_t capacity, std::size_t history, clock_ms clock)
    : capacity_(capacity), history_(history), clock_(clock ? clock : system_ms) {}

void room_registry::set_history(std::string_view room, std::vector<std::string> entries) {
  if (history_ == 0) return;
  if (entries.size() > history_) entries.erase(entries.begin(), entries.end() - static_cast<std::ptrdiff_t>(history_));
  auto it = kept_.find(room);
  if (it == kept_.end()) kept_.emplace(std::string(room), std::move(entries));
  else it->second = std::move(entries);
}

outcome room_registry::handle(const member& sender, std::string_view current_room,
                              const proto::client_message& message) {
  if (auto answer = answer_without_rooms(sender, current_room, message)) return std::move(*answer);
  switch (message.type) {
    case proto::message_type::join:
      return join(sender, message);
    case proto::message_type::leave:
      return leave(sender, current_room, message);
    default:
      return relay(sender, current_room, message);
  }
}

outcome room_registry::join(const member& sender, const proto::client_message& message) {
  auto [it, created] = rooms_.try_emplace(message.room);
  auto& members = it->second;
  if (capacity_ != 0 && members.size() >= capacity_) {
    if (created) rooms_.erase(it);  // never leave an empty room behind (capacity 1 of 0 members cannot happen)
    return refuse(sender, proto::error_code::room_full,
                  "room " + message.room + " is full (" + std::to_string(members.size()) + " of " +
                      std::to_string(capacity_) + ")",
                  message.rid_json);
  }

  outcome result;
  std::vector<std::string> ids, users;
  ids.reserve(members.size());
  users.reserve(members.size());
  for (const auto& m : members) {
    ids.push_back(m.id);
    users.push_back(m.user);
  }
  // The joiner's `joined` goes out before anything from the others, and the
  // others get `peer-joined` before anything from the joiner: both hold
  // because this decision is applied whole before the next one.
  std::span<const std::string> history;
  std::optional<std::span<const std::string>> with_history;
  if (history_ > 0) {
    if (auto kept = kept_.find(message.room); kept != kept_.end()) history = kept->second;
    with_history = history;
  }
  result.deliveries.push_back(
      {sender.handle, frame(proto::encode_joined(message.room, sender.id, ids, users, message.rid_json, with_history))});
  if (!members.empty()) {
    auto notice = frame(proto::encode_peer_joined(message.room, sender.id, sender.user));
    for (const auto& m : members) result.deliveries.push_back({m.handle, notice});
  }
  members.push_back(sender);
  result.joined = message.room;
  result.rooms_delta = created ? 1 : 0;
  return result;
}

outcome room_registry::leave(const member& sender, std::string_view room, const proto::client_message& message) {
  outcome result;
  auto remaining = remove(sender, room, result.rooms_delta);
  if (!remaining) return refuse(sender, proto::error_code::not_in_room, "not in a room", message.rid_json);
  result.deliveries.push_back({sender.handle, frame(proto::encode_left(room, message.rid_json))});
  auto notice = frame(proto::encode_peer_left(room, sender.id));
  for (const auto& m : *remaining) result.deliveries.push_back({m.handle, notice});
  result.left = true;
  return result;
}

outcome room_registry::relay(const member& sender, std::string_view room, const proto::client_message& message) {
  auto it = rooms_.find(room);
  if (it == rooms_.end())
    return refuse(sender, proto::error_code::not_in_room,
                  std::string(proto::to_string(message.type)) + " needs a room; join one first", message.rid_json);
  const auto& members = it->second;

  outcome result;
  if (message.to) {
    // Isolation: `to` must name a member of the sender's own room.
    auto target = std::find_if(members.begin(), members.end(), [&](const member& m) { return m.id == *message.to; });
    if (target == members.end())
      return refuse(sender, proto::error_code::unknown_peer,
                    "no peer " + *message.to + " in room " + std::string(room), message.rid_json);
    result.deliveries.push_back({target->handle, frame(proto::relay_text(message.relay_body, sender.id))});
    result.relayed = message.type;
    return result;
  }
  auto relayed = frame(proto::relay_text(message.relay_body, sender.id));
  for (const auto& m : members)
    if (m.handle != sender.handle) result.deliveries.push_back({m.handle, relayed});
  result.relayed = message.type;
  if (history_ > 0 && message.type == proto::message_type::message) {
    // The relayed object as its receivers got it, stamped first: {"ts":..,"from":..,...}.
    std::string entry = "{\"ts\":" + std::to_string(clock_()) + "," + relayed->substr(1);
    auto& kept = kept_[std::string(room)];
    if (kept.size() == history_) kept.erase(kept.begin());
    kept.push_back(entry);
    result.kept = std::move(entry);
  }
  return result;
}

outcome room_registry::disconnect(const member& sender, std::string_view current_room) {
  outcome result;
  if (current_room.empty()) return result;
  if (auto remaining = remove(sender, current_room, result.rooms_delta)) {
    auto notice = frame(proto::encode_peer_left(current_room, sender.id));
    for (const auto& m : *remaining) result.deliveries.push_back({m.handle, notice});
    result.left = true;
  }
  return result;
}

std::optional<std::vector<member>> room_registry::remove(const member& sender, std::string_view room,
                                                         int& rooms_delta) {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return std::nullopt;
  auto& members = it->second;
  auto at = std::find_if(members.begin(), members.end(), [&](const member& m) { return m.handle == sender.handle; });
  if (at == members.end()) return std::nullopt;
  members.erase(at);
  std::vector<member> remaining = members;
  if (members.empty()) {  // a room with no members ceases to exist, and its history with it
    rooms_.erase(it);
    if (auto kept = kept_.find(room); kept != kept_.end()) kept_.erase(kept);
    rooms_delta = -1;
  }
  return remaining;
}

std::vector<member> room_registry::members(std::string_view room) const {
  auto it = rooms_.find(room);
  return it == rooms_.end() ? std::vector<member>{} : it->second;
}

}  // namespace sigkit::rooms
