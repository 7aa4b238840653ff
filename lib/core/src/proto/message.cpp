#include "sigkit/proto/message.hpp"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

namespace sigkit::proto {
namespace {

// ordered_json keeps members in the sender's order when a relayed object has
// to be re-encoded (only when it carried a forged `from`).
using json = nlohmann::ordered_json;

constexpr std::array<std::string_view, error_code_count> error_names{
    "bad-json",    "bad-message", "unknown-type", "invalid-room", "room-full",
    "already-joined", "not-in-room", "unknown-peer", "rate-limited"};

constexpr std::array<std::string_view, message_type_count> type_names{
    "join", "leave", "ping", "offer", "answer", "candidate", "bye", "message"};

constexpr std::size_t max_rid_chars = 64;

std::string json_string(std::string_view text) {
  // Invalid UTF-8 cannot arrive (text frames are validated by the WebSocket
  // layer), but an error message may quote a client's bytes: never throw.
  return json(std::string(text)).dump(-1, ' ', false, json::error_handler_t::replace);
}

decode_error failure(error_code code, std::string message, std::string rid_json = {}) {
  return decode_error{code, std::move(message), std::move(rid_json)};
}

// The envelope members the server acts on, read in one SAX pass. The
// whole frame is still validated as JSON, but payload members (an SDP of
// several KiB) are never copied into a document tree.
struct member {
  enum kind_t { absent, string, integer, other } kind = absent;
  std::string text;  // the string, or the integer's digits
};

struct envelope_members {
  bool is_object = false;
  member type, room, to, rid;
  bool has_from = false;
};

class envelope_reader {
 public:
  using number_integer_t = json::number_integer_t;
  using number_unsigned_t = json::number_unsigned_t;
  using number_float_t = json::number_float_t;
  using string_t = json::string_t;
  using binary_t = json::binary_t;

  const envelope_members& envelope() const { return members_; }

  bool null() { return value(member::other); }
  bool boolean(bool) { return value(member::other); }
  bool number_integer(number_integer_t v) { return value(member::integer, std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) { return value(member::integer, std::to_string(v)); }
  bool number_float(number_float_t, const string_t&) { return value(member::other); }
  bool binary(binary_t&) { return value(member::other); }
  bool string(string_t& text) {
    if (depth_ == 1 && current_) return value(member::string, std::move(text));
    return true;
  }
  bool start_object(std::size_t) {
    if (depth_ == 0) members_.is_object = true;
    else value(member::other);
    ++depth_;
    return true;
  }
  bool start_array(std::size_t) {
    if (depth_ != 0) value(member::other);
    ++depth_;
    return true;
  }
  bool end_object() { return --depth_, true; }
  bool end_array() { return --depth_, true; }
  bool key(string_t& name) {
    if (depth_ != 1) return true;
    current_ = name == "type" ? &members_.type
             : name == "room" ? &members_.room
             : name == "to"   ? &members_.to
             : name == "rid"  ? &members_.rid
                              : nullptr;
    if (name == "from") members_.has_from = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) { return false; }

 private:
  // A top-level member's value; duplicates keep the last, as a parsed
  // document would.
  bool value(member::kind_t kind, std::string text = {}) {
    if (depth_ == 1 && current_) {
      current_->kind = kind;
      current_->text = std::move(text);
    }
    current_ = nullptr;
    return true;
  }

  envelope_members members_;
  member* current_ = nullptr;
  int depth_ = 0;
};

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
  envelope_reader reader;
  bool well_formed = json::sax_parse(frame, &reader, json::input_format_t::json, /*strict=*/true);
  if (!well_formed) return failure(error_code::bad_json, "the frame is not valid JSON");
  const auto& e = reader.envelope();
  if (!e.is_object) return failure(error_code::bad_json, "the frame is not a JSON object");

  std::string rid;
  if (e.rid.kind == member::integer) rid = e.rid.text;
  else if (e.rid.kind == member::string && e.rid.text.size() <= max_rid_chars) rid = json_string(e.rid.text);
  else if (e.rid.kind != member::absent)
    return failure(error_code::bad_message, "rid must be a string or integer of at most 64 characters");

  if (e.type.kind == member::absent) return failure(error_code::bad_message, "type is missing", rid);
  if (e.type.kind != member::string) return failure(error_code::bad_message, "type must be a string", rid);
  auto known = std::find(type_names.begin(), type_names.end(), e.type.text);
  if (known == type_names.end())
    return failure(error_code::unknown_type, "unknown message type " + json_string(e.type.text), rid);

  client_message message{static_cast<message_type>(known - type_names.begin()), rid, {}, {}, {}};

  if (message.type == message_type::join) {
    if (e.room.kind == member::absent) return failure(error_code::bad_message, "join needs a room", rid);
    if (e.room.kind != member::string) return failure(error_code::bad_message, "room must be a string", rid);
    message.room = e.room.text;
    if (!is_valid_room(message.room))
      return failure(error_code::invalid_room,
                     "room " + json_string(message.room) +
                         " must be 1 to 64 characters from A-Z a-z 0-9 _ . ~ -",
                     rid);
  }

  if (is_relay(message.type)) {
    if (e.to.kind != member::absent) {
      if (e.to.kind != member::string) return failure(error_code::bad_message, "to must be a string", rid);
      message.to = e.to.text;
    }
    // The common case keeps the sender's bytes exactly; only a forged `from`
    // forces a re-encode, since the server's id must replace it.
    if (e.has_from) {
      auto object = json::parse(frame);
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

std::string encode_welcome(std::string_view peer, std::string_view server,
                           heartbeat_timing heartbeat) {
  return "{\"type\":\"welcome\",\"peer\":" + json_string(peer) +
         ",\"protocol\":" + std::to_string(version) + ",\"server\":" + json_string(server) +
         ",\"heartbeat\":{\"interval_ms\":" + std::to_string(heartbeat.interval_ms) +
         ",\"timeout_ms\":" + std::to_string(heartbeat.timeout_ms) + "}}";
}

std::string encode_joined(std::string_view room, std::string_view peer,
                          std::span<const std::string> peers, std::string_view rid_json) {
  std::string list = "[";
  for (const auto& other : peers) {
    if (list.size() > 1) list += ',';
    list += json_string(other);
  }
  list += ']';
  return with_rid("{\"type\":\"joined\",\"room\":" + json_string(room) + ",\"peer\":" + json_string(peer) +
                      ",\"peers\":" + list + "}",
                  rid_json);
}

std::string encode_peer_joined(std::string_view room, std::string_view peer) {
  return "{\"type\":\"peer-joined\",\"room\":" + json_string(room) + ",\"peer\":" + json_string(peer) + "}";
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
