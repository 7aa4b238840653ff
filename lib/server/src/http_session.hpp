// A connection before (or instead of) its upgrade: HTTP/1.1 requests, one at
// a time, answered from routes.hpp, until one is a WebSocket upgrade that
// sigserve admits. A whole request must arrive within --handshake-timeout,
// and --max-http-connections bounds how many wait, oldest dropped first, so a
// slow client (or a slow-loris attacker) holds a slot briefly and never
// keeps a newcomer out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace sigkit::server {

class event_loop;
struct connection;

struct http_session {
  // Consumes whole requests from `bytes`; returns how many bytes it took (0:
  // the rest of a request has not arrived, or an answer is still being made).
  static std::size_t consume(event_loop& loop, connection& c, std::span<char> bytes);
  static void on_eof(event_loop& loop, connection& c);
  static void on_deadline(event_loop& loop, connection& c);
  static std::uint32_t deadline(const event_loop& loop, const connection& c) noexcept;
};

}  // namespace sigkit::server
