// A connection after its upgrade: RFC 6455 frames in (sigkit::websocket::
// reader), protocol messages to the hub, frames out through the loop, and
// its deadlines: heartbeat, write progress and the close handshake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "sigkit/metrics/server_metrics.hpp"
#include "sigkit/rooms/room_registry.hpp"

namespace sigkit::server {

class event_loop;
struct connection;

struct websocket_session {
  // The upgrade was admitted: answer 101 with the welcome right behind it.
  static void open(event_loop& loop, connection& c, std::string_view accept_key);
  static std::size_t consume(event_loop& loop, connection& c, std::span<char> bytes);
  static void on_eof(event_loop& loop, connection& c);
  static void on_deadline(event_loop& loop, connection& c);
  static std::uint32_t deadline(const event_loop& loop, const connection& c) noexcept;
  // Leaves the room (the others hear peer-left at once) and sends a close
  // frame; the socket closes when the peer answers or the handshake times out.
  static void start_close(event_loop& loop, connection& c, std::uint16_t code, metrics::close_reason reason);
  // Closes at once, without a handshake (the peer cannot take more bytes).
  static void drop(event_loop& loop, connection& c, std::uint16_t code, metrics::close_reason reason);
  static void on_settled(event_loop& loop, connection& c, const rooms::outcome& outcome);
  // Its socket is about to close: leave the room if still in one, count, log.
  static void finish(event_loop& loop, connection& c);
};

}  // namespace sigkit::server
