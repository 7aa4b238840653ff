// Where rooms live. A connection hands the hub each decoded message together
// with the room it is in; the hub decides (rooms::room_registry) and answers
// through the caller's hub_sink: every frame, to the sender and to any member
// on any loop, in the order it must be sent, then the sender's settlement
// (joined, left, or refused).
//
// The in-process hub answers before handle() returns. A hub backed by a
// broker (several sigserve instances) may answer later, still on the sender's
// loop and in the order of the calls; the sink interface is what makes that
// possible without changing a connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sigkit/proto/message.hpp"
#include "sigkit/rooms/room_registry.hpp"

namespace sigkit::server {

class hub_sink {
 public:
  virtual void deliver(rooms::member_handle to, std::shared_ptr<const std::string> frame) = 0;
  // The sender's part of an outcome (its deliveries already went through deliver()).
  virtual void settle(rooms::member_handle sender, const rooms::outcome& outcome) = 0;

 protected:
  ~hub_sink() = default;
};

class hub {
 public:
  virtual ~hub() = default;
  virtual void handle(const rooms::member& sender, std::string_view current_room,
                      const proto::client_message& message, hub_sink& sink) = 0;
  // The sender's connection is gone; the others in its room hear peer-left.
  virtual void disconnect(const rooms::member& sender, std::string_view current_room, hub_sink& sink) = 0;
  virtual std::int64_t room_count() const noexcept = 0;

  // Once the loops exist, before they run; once they have stopped.
  virtual void start() {}
  virtual void stop() {}
  // Why this instance should get no traffic now (/readyz), or nullopt.
  virtual std::optional<std::string> not_ready() const { return std::nullopt; }
  // Its own lines for /metrics (Prometheus text).
  virtual void write_metrics(std::string& /*out*/) const {}
};

}  // namespace sigkit::server
