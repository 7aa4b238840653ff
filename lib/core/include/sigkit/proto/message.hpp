// Signaling protocol v1: decoding what clients send, encoding what the server
// says. Pure functions over text; no sockets, no clocks. The wire contract is
// docs/protocol.md.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

namespace sigkit::proto {

inline constexpr int version = 1;

// Every `code` an `error` message can carry (protocol.md, "Errors").
enum class error_code {
  bad_json,
  bad_message,
  unknown_type,
  invalid_room,
  room_full,
  already_joined,
  not_in_room,
  unknown_peer,
  rate_limited,
  forbidden,      // 1.1: the token does not allow this room, or a refresh changes `sub`
  token_expired,  // 1.1: sent just before a connection whose token expired is closed
  unavailable,    // 1.1: the broker that several instances share cannot be reached; retry later
};
inline constexpr std::size_t error_code_count = 12;

std::string_view to_string(error_code code) noexcept;
std::optional<error_code> error_code_from_string(std::string_view text) noexcept;

// What a client may send. The relay types (from offer on) are passed on to
// other peers; refresh (1.1) replaces the connection's token.
enum class message_type { join, leave, ping, refresh, offer, answer, candidate, bye, message };
inline constexpr std::size_t message_type_count = 9;

std::string_view to_string(message_type type) noexcept;
constexpr bool is_relay(message_type type) noexcept { return type >= message_type::offer; }

// Room names: 1 to 64 characters from A-Z a-z 0-9 _ . ~ - (URL-safe, so a
// room can be a path segment of the demo page).
bool is_valid_room(std::string_view room) noexcept;

// A decoding failure, with the `rid` when it could still be read so the error
// reply can carry it.
struct decode_error {
  error_code code;
  std::string message;
  std::string rid_json;  // empty when absent or unreadable
};

struct client_message {
  message_type type;
  std::string rid_json;  // the client's `rid` re-encoded as JSON, empty if none
  std::string room;      // join
  std::string token;     // refresh
  std::optional<std::string> to;  // relays
  // Relays only: the frame's text with `from` removed, ready to be stamped
  // with the sender's id by relay_text(). Payload members pass untouched.
  std::string relay_body;
};

// `frame` must be valid UTF-8, as every WebSocket text frame is by the time
// it gets here; what counts as JSON is set out in envelope.hpp (RFC 8259,
// nested at most max_nesting deep).
result<client_message, decode_error> decode(std::string_view frame);

// The relayed frame a receiver gets: the sender's object with `from` set.
std::string relay_text(std::string_view relay_body, std::string_view from);

// Server-to-client messages.
struct heartbeat_timing {
  std::int64_t interval_ms;
  std::int64_t timeout_ms;
};
// What protocol 1.1 adds to a welcome (protocol.md, "Additions in 1.1"):
// the features on, the authenticated user, the ICE servers in
// RTCIceServer shape. Empty members are left out, so a 1.0 welcome is unchanged.
struct welcome_additions {
  std::vector<std::string_view> features;
  std::string_view user;
  std::string_view ice_servers_json;  // a JSON array, ready to embed
};
std::string encode_welcome(std::string_view peer, std::string_view server, heartbeat_timing heartbeat,
                           const welcome_additions& additions = {});
std::string encode_joined(std::string_view room, std::string_view peer,
                          std::span<const std::string> peers, std::string_view rid_json);
std::string encode_peer_joined(std::string_view room, std::string_view peer, std::string_view user = {});
// With auth on, `joined` names each listed peer's user (1.1): users[i] is
// peers[i]'s; an empty span (or all users empty) leaves `users` out.
// With room history on (1.1), `history` lists the kept relays, each a JSON
// object as kept, oldest first (`"history":[]` when there are none).
std::string encode_joined(std::string_view room, std::string_view peer, std::span<const std::string> peers,
                          std::span<const std::string> users, std::string_view rid_json,
                          std::optional<std::span<const std::string>> history = std::nullopt);
std::string encode_refreshed(std::int64_t exp, std::string_view rid_json);
std::string encode_left(std::string_view room, std::string_view rid_json);
std::string encode_peer_left(std::string_view room, std::string_view peer);
std::string encode_pong(std::string_view rid_json);
std::string encode_error(error_code code, std::string_view message, std::string_view rid_json);

}  // namespace sigkit::proto
