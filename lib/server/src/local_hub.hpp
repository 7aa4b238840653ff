// The in-process hub: rooms sharded by name over a fixed set of registries,
// each behind its own lock, so loops contend only when they touch rooms of
// the same shard at the same instant; frames of one decision are handed out
// whole, in order, before the sender's next message is read.
//
// Why the ordering guarantees of the protocol hold on any number of loops:
// every decision about a room is made under its shard's lock, on the sender's
// loop, in the order that sender's messages arrived; its frames for a
// receiver on the same loop are queued at once, and those for other loops are
// appended, in decision order, to one batch per target loop that leaves when
// the current pass ends. A receiver's loop therefore sees one sender's frames
// in the order they were decided, the joiner's `joined` before anything that
// a later decision sends it, and `peer-joined` before anything of the joiner's.
#pragma once

#include <array>
#include <atomic>
#include <mutex>

#include "hub.hpp"

namespace sigkit::server {

class local_hub final : public hub {
 public:
  local_hub(std::size_t room_capacity, std::size_t room_history);

  void handle(const rooms::member& sender, std::string_view current_room, const proto::client_message& message,
              hub_sink& sink) override;
  void disconnect(const rooms::member& sender, std::string_view current_room, hub_sink& sink) override;
  std::int64_t room_count() const noexcept override { return rooms_.load(std::memory_order_relaxed); }

 private:
  // 64 shards: two loops hit the same lock at once about 1 time in 64.
  static constexpr std::size_t shard_count = 64;
  struct alignas(64) shard {
    shard(std::size_t capacity, std::size_t history) : registry(capacity, history) {}
    std::mutex mutex;
    rooms::room_registry registry;
  };

  shard& shard_of(std::string_view room) noexcept;
  void route(const rooms::member& sender, rooms::outcome outcome, hub_sink& sink);

  std::array<std::unique_ptr<shard>, shard_count> shards_;
  std::atomic<std::int64_t> rooms_{0};
};

}  // namespace sigkit::server
