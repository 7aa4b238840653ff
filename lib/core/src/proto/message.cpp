#include "sigkit/proto/message.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "sigkit/proto/envelope.hpp"

namespace sigkit::proto {
namespace {

// ordered_json keeps members in the sender's order when a relayed object has
// to be re-encoded (only when it carried a forged `from`).
using json = nlohmann::ordered_json;

constexpr std::array<std::string_view, error_code_count> error_names{
    "bad-json",    "bad-message", "unknown-type", "invalid-room", "room-full",
    "already-joined", "not-in-room", "unknown-peer", "rate-limited", "forbidden", "token-expired",
    "unavailable"};

constexpr std::array<std::string_view, message_type_count> type_names{
    "join", "leave", "ping", "refresh", "offer", "answer", "candidate", "bye", "message"};

constexpr std::size_t max_rid_chars = 64;

std::string json_string(std::string_view text) {
  // Ids, room names and our own messages are ASCII: quote them here, a few
  // times faster than through a JSON library. Anything else (an error
  // message may quote a client's bytes) goes through nlohmann, which never
  // throws and replaces what is not UTF-8.
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  out += '"';
  return out;
}

decode_error failure(error_code code, std::string message, std::string rid_json = {}) {
  return decode_error{code, std::move(message), std::move(rid_json)};
}

// Appends `,"rid":<rid>` before the closing brace of an encoded object.
std::string with_rid(std::string object, std::string_view rid_json) {
  if (rid_json.empty()) return object;
  object.pop_back();
  object += ",\"rid\":";
  object += rid_json;
  object += '}';
  return object;
}

}  // namespace

std::string_view to_string(error_code code) noexcept {
  return error_names[static_cast<std::size_t>(code)];
}

std::optional<error_code> error_code_from_string(std::string_view text) noexcept {
  auto it = std::find(error_names.begin(), error_names.end(), text);
  if (it == error_names.end()) return std::nullopt;
  return static_cast<error_code>(it - error_names.begin());
}

std::string_view to_string(message_type type) noexcept {
  return type_names[static_cast<std::size_t>(type)];
}

bool is_valid_room(std::string_view room) noexcept {
  if (room.empty() || room.size() > 64) return false;
  return std::all_of(room.begin(), room.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '~' || c == '-';
  });
}

result<client_message, decode_error> decode(std::string_view frame) {
  // One pass validates the whole frame and reads the envelope; payload
  // members are skipped, never copied (envelope.hpp).
  auto scanned = scan_envelope(frame);
  if (!scanned) {
    if (scanned.error().why == envelope_error::reason::too_deep)
      return failure(error_code::bad_json, "the frame is nested too deeply (more than " +
                                               std::to_string(max_nesting) + " levels of arrays and objects)");
    return failure(error_code::bad_json, "the frame is not valid JSON");
  }
  const envelope& e = *scanned;
  if (!e.is_object) return failure(error_code::bad_json, "the frame is not a JSON object");

  std::string rid;
  if (e.rid.kind() == member_kind::integer) rid = e.rid.text();
  else if (e.rid.kind() == member_kind::string && e.rid.text().size() <= max_rid_chars) rid = json_string(e.rid.text());
  else if (e.rid.kind() != member_kind::absent)
    return failure(error_code::bad_message, "rid must be a string or integer of at most 64 characters");

  if (e.type.kind() == member_kind::absent) return failure(error_code::bad_message, "type is missing", rid);
  if (e.type.kind() != member_kind::string) return failure(error_code::bad_message, "type must be a string", rid);
  auto known = std::find(type_names.begin(), type_names.end(), e.type.text());
  if (known == type_names.end())
    return failure(error_code::unknown_type, "unknown message type " + json_string(e.type.text()), rid);

  client_message message{static_cast<message_type>(known - type_names.begin()), rid, {}, {}, {}, {}};

  if (message.type == message_type::refresh) {
    if (e.token.kind() != member_kind::string || e.token.text().empty())
      return failure(error_code::bad_message, "refresh needs a token (a string)", rid);
    message.token = e.token.text();
  }

  if (message.type == message_type::join) {
    if (e.room.kind() == member_kind::absent) return failure(error_code::bad_message, "join needs a room", rid);
    if (e.room.kind() != member_kind::string) return failure(error_code::bad_message, "room must be a string", rid);
    message.room = e.room.text();
    if (!is_valid_room(message.room))
      return failure(error_code::invalid_room,
                     "room " + json_string(message.room) +
                         " must be 1 to 64 characters from A-Z a-z 0-9 _ . ~ -",
                     rid);
  }

  if (is_relay(message.type)) {
    if (e.to.kind() != member_kind::absent) {
      if (e.to.kind() != member_kind::string) return failure(error_code::bad_message, "to must be a string", rid);
      message.to = e.to.text();
    }
    // The common case keeps the sender's bytes exactly; only a forged `from`
    // forces a re-encode, since the server's id must replace it.
    if (e.has_from) {
      // The scanner accepts what this parser does for valid UTF-8, which is
      // all a text frame can be; no exception either way.
      auto object = json::parse(frame, nullptr, /*allow_exceptions=*/false);
      if (object.is_discarded()) return failure(error_code::bad_json, "the frame is not valid JSON");
      object.erase("from");
      message.relay_body = object.dump(-1, ' ', false, json::error_handler_t::replace);
    } else {
      message.relay_body = std::string(frame);
    }
  }
  return message;
}

std::string relay_text(std::string_view relay_body, std::string_view from) {
  // relay_body is a JSON object with at least `type`, so a member can be put
  // right after its opening brace.
  auto brace = relay_body.find('{');
  std::string out;
  out.reserve(relay_body.size() + from.size() + 12);
  out += "{\"from\":";
  out += json_string(from);
  out += ',';
  out += relay_body.substr(brace + 1);
  return out;
}

std::string encode_welcome(std::string_view peer, std::string_view server, heartbeat_timing heartbeat,
                           const welcome_additions& additions) {
  std::string out = "{\"type\":\"welcome\",\"peer\":" + json_string(peer) +
                    ",\"protocol\":" + std::to_string(version) + ",\"server\":" + json_string(server) +
                    ",\"heartbeat\":{\"interval_ms\":" + std::to_string(heartbeat.interval_ms) +
                    ",\"timeout_ms\":" + std::to_string(heartbeat.timeout_ms) + "}";
  if (!additions.features.empty()) {
    out += ",\"features\":[";
    for (std::size_t i = 0; i < additions.features.size(); ++i) {
      if (i) out += ',';
      out += json_string(additions.features[i]);
    }
    out += ']';
  }
  if (!additions.user.empty()) out += ",\"user\":" + json_string(additions.user);
  if (!additions.ice_servers_json.empty()) {
    out += ",\"ice_servers\":";
    out += additions.ice_servers_json;
  }
  out += '}';
  return out;
}

std::string encode_joined(std::string_view room, std::string_view peer, std::span<const std::string> peers,
                          std::string_view rid_json) {
  return encode_joined(room, peer, peers, {}, rid_json);
}

std::string encode_joined(std::string_view room, std::string_view peer, std::span<const std::string> peers,
                          std::span<const std::string> users, std::string_view rid_json,
                          std::optional<std::span<const std::string>> history) {
  std::string list = "[";
  for (const auto& other : peers) {
    if (list.size() > 1) list += ',';
    list += json_string(other);
  }
  list += ']';
  std::string out = "{\"type\":\"joined\",\"room\":" + json_string(room) + ",\"peer\":" + json_string(peer) +
                    ",\"peers\":" + list;
  bool any_user = false;
  for (const auto& u : users) any_user = any_user || !u.empty();
  if (any_user) {
    out += ",\"users\":{";
    for (std::size_t i = 0; i < peers.size() && i < users.size(); ++i) {
      if (i) out += ',';
      out += json_string(peers[i]) + ":" + json_string(users[i]);
    }
    out += '}';
  }
  if (history) {
    out += ",\"history\":[";
    for (std::size_t i = 0; i < history->size(); ++i) {
      if (i) out += ',';
      out += (*history)[i];
    }
    out += ']';
  }
  out += '}';
  return with_rid(std::move(out), rid_json);
}

std::string encode_peer_joined(std::string_view room, std::string_view peer, std::string_view user) {
  std::string out = "{\"type\":\"peer-joined\",\"room\":" + json_string(room) + ",\"peer\":" + json_string(peer);
  if (!user.empty()) out += ",\"user\":" + json_string(user);
  out += '}';
  return out;
}

std::string encode_refreshed(std::int64_t exp, std::string_view rid_json) {
  return with_rid("{\"type\":\"refreshed\",\"exp\":" + std::to_string(exp) + "}", rid_json);
}

std::string encode_left(std::string_view room, std::string_view rid_json) {
  return with_rid("{\"type\":\"left\",\"room\":" + json_string(room) + "}", rid_json);
}

std::string encode_peer_left(std::string_view room, std::string_view peer) {
  return "{\"type\":\"peer-left\",\"room\":" + json_string(room) + ",\"peer\":" + json_string(peer) + "}";
}

std::string encode_pong(std::string_view rid_json) {
  return with_rid("{\"type\":\"pong\"}", rid_json);
}

std::string encode_error(error_code code, std::string_view message, std::string_view rid_json) {
  return with_rid("{\"type\":\"error\",\"code\":" + json_string(to_string(code)) +
                      ",\"message\":" + json_string(message) + "}",
                  rid_json);
}

}  // namespace sigkit::proto
