#include "local_hub.hpp"

#include <functional>

namespace sigkit::server {

local_hub::local_hub(std::size_t room_capacity, std::size_t room_history) {
  for (auto& s : shards_) s = std::make_unique<shard>(room_capacity, room_history);
}

local_hub::shard& local_hub::shard_of(std::string_view room) noexcept {
  return *shards_[std::hash<std::string_view>{}(room) % shard_count];
}

void local_hub::handle(const rooms::member& sender, std::string_view current_room,
                       const proto::client_message& message, hub_sink& sink) {
  // Pings and refusals that follow from the sender's own state take no lock.
  if (auto answer = rooms::answer_without_rooms(sender, current_room, message)) {
    route(sender, std::move(*answer), sink);
    return;
  }
  auto& s = shard_of(message.type == proto::message_type::join ? std::string_view(message.room) : current_room);
  rooms::outcome outcome;
  {
    std::lock_guard lock(s.mutex);
    outcome = s.registry.handle(sender, current_room, message);
  }
  route(sender, std::move(outcome), sink);
}

void local_hub::disconnect(const rooms::member& sender, std::string_view current_room, hub_sink& sink) {
  if (current_room.empty()) return;
  auto& s = shard_of(current_room);
  rooms::outcome outcome;
  {
    std::lock_guard lock(s.mutex);
    outcome = s.registry.disconnect(sender, current_room);
  }
  route(sender, std::move(outcome), sink);
}

void local_hub::route(const rooms::member& sender, rooms::outcome outcome, hub_sink& sink) {
  if (outcome.rooms_delta != 0) rooms_.fetch_add(outcome.rooms_delta, std::memory_order_relaxed);
  for (auto& d : outcome.deliveries) sink.deliver(d.to, std::move(d.frame));
  outcome.deliveries.clear();
  sink.settle(sender.handle, outcome);
}

}  // namespace sigkit::server
