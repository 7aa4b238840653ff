// One TCP connection, as an event loop keeps it: a small struct in the loop's
// table, touched only by that loop's thread. It holds no read buffer, no timer
// and no coroutine frame while idle (docs/transport.md counts its bytes):
// bytes are read into the loop's buffer, deadlines sit in the loop's timer
// wheel, and only the bytes of an unfinished request or frame stay here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "peer_address.hpp"
#include "send_queue.hpp"
#include "sigkit/auth/jwt.hpp"
#include "sigkit/byte_buffer.hpp"
#include "sigkit/metrics/server_metrics.hpp"
#include "sigkit/rate_limit.hpp"
#include "sigkit/timer_wheel.hpp"
#include "sigkit/websocket/reader.hpp"

typedef struct ssl_st SSL;

namespace sigkit::server {

// The connection is its own entry in its loop's timer wheel (one deadline at
// a time: the nearest of its heartbeat, handshake, close and write deadlines).
// What a connection's token granted (with auth on): who, until when, where.
struct token_grant {
  auth::claims claims;
  std::uint32_t expiry_tick = 0;  // the loop tick at which claims.exp passes
};

struct connection : timer_wheel::entry {
  static constexpr std::uint32_t no_slot = 0xFFFFFFFF;

  enum class phase : std::uint8_t {
    free,       // a slot of the table with no connection in it
    http,       // reading HTTP requests, until one upgrades
    websocket,  // speaking the protocol
    closing,    // our close frame (or Connection: close response) is out; waiting for the peer, briefly
  };

  int fd = -1;
  SSL* tls = nullptr;  // the TLS session, when the listener speaks HTTPS
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;  // bumped when the slot is freed, so stale handles miss
  phase state = phase::free;
  bool eof = false;                // the peer has shut down its sending side
  bool close_when_flushed = false;  // nothing more to say: close once the queue is written
  bool waiting_for_file = false;   // HTTP: a static file is being read for it elsewhere
  bool reason_set = false;
  bool dirty = false;              // corked frames waiting for the end of the pass
  bool write_interest = false;     // EPOLLOUT registered: the socket would not take everything
  bool tls_wants_write = false;    // the TLS session must write before it can read on
  bool address_counted = false;    // holds a place under the limits by address
  bool awaiting_hub = false;       // a message of its is with the hub: read no further until it settles
  bool in_hub_call = false;        // ... and the hub has not returned yet (it may settle at once)
  metrics::close_reason reason = metrics::close_reason::network_error;
  std::uint16_t requests = 0;      // HTTP requests answered on it
  std::uint16_t scanned = 0;       // HTTP: bytes of `input` already searched for the end of the head

  byte_buffer input;  // bytes read but not yet consumed: part of a request head or of a frame
  websocket::reader reader{websocket::role::server, 0};
  send_queue out;

  std::string peer;  // protocol id, after the upgrade
  std::string room;  // the room it is in, empty for none
  std::unique_ptr<token_grant> grant;  // only with auth on: 8 bytes otherwise
  token_bucket bucket;   // messages
  token_bucket strikes;  // refusals it may still earn before it is closed
  token_bucket joins;

  // In ticks of the loop's wheel (see event_loop::tick_length()).
  std::uint32_t phase_since = 0;  // start of the current HTTP request, or of the close handshake
  std::uint32_t opened = 0;       // upgrade
  std::uint32_t last_heard = 0;   // any frame from the peer
  std::uint32_t last_ping = 0;
  std::uint32_t stalled_since = 0;  // when the backlog last failed to move

  // The loop's list of not-yet-upgraded connections, oldest first, by slot.
  std::uint32_t http_prev = no_slot;
  std::uint32_t http_next = no_slot;

  peer_address remote;

  void set_reason(metrics::close_reason r) noexcept {
    if (!reason_set) reason = r;
    reason_set = true;
  }
};

}  // namespace sigkit::server
