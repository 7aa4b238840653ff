// What a simulated peer says and hears: the protocol of the server under
// test. Pure: text in, decisions out.
//
// sigbench's peers do the same things against any signaling server (connect,
// join a room, offer/answer/trickle to each other, leave); a dialect says how
// each of those is written and how each reply is recognised:
//
//   - templates for what a peer sends (join, offer, answer, candidate, leave,
//     bye), JSON with placeholders: {{room}}, {{self}} (this peer's id),
//     {{to}} (the receiver's id), {{sdp}}, {{candidate}}, and "{{bench}}",
//     the object sigbench hides in every relay to find it again (sequence
//     number, send time, room);
//   - matchers for what it hears (welcome, joined, peer-joined, full, error,
//     relayed): a JSON pointer (RFC 6901) and the value it must hold, then
//     pointers to the parts sigbench reads (ids, error code, the bench object).
//
// `sigkit` (protocol v1) and `socketio-codelab` (the WebRTC codelab's
// socket.io server) are built in and written in the same format, which a
// dialect file (JSON) uses for anything else; scenarios/dialects/ has
// examples. The server is untrusted input: every value is read with its type
// checked, and what does not fit is a `violation` naming the pointer, never
// an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/result.hpp"

namespace sigkit::bench {

// How messages ride on WebSocket text frames.
enum class framing : std::uint8_t {
  json,       // one JSON value per frame
  socket_io,  // Engine.IO v4 packets carrying socket.io v5 packets: events are JSON arrays ["name", args...]
};

enum class outbound_kind : std::uint8_t { join, offer, answer, candidate, leave, bye };

// What sigbench hides in each relay: `{"seq":N,"t":NS,"room":"R"}`, or for a
// bye `{"room":"R","bye":true}` (a bye answers nothing and counts nothing, but
// one that reaches another room is still a misroute).
struct bench_tag {
  std::optional<std::uint64_t> seq;  // relays; never a bye
  std::int64_t t_ns = 0;             // send time, ns since the run's start
  std::string room;
  bool bye = false;

  std::string to_json() const;
  // nullopt: not an object of that shape (something sigbench never sent).
  static std::optional<bench_tag> from_json(const nlohmann::json& v);
};

// What the placeholders of one message stand for; plain text, escaped by
// encode(). `bench` is JSON text (from bench_tag::to_json()).
struct fill {
  std::string_view room, self, to, sdp, candidate, bench;
};

// One frame from the server, as the session needs it.
struct inbound {
  enum class kind : std::uint8_t {
    ignored,      // nothing sigbench acts on (pong, peer-left, log lines...)
    reply,        // transport bookkeeping that wants `reply` sent back (Engine.IO open, ping)
    welcome,      // the session is open; `peer` is this peer's id, when the dialect gives one
    joined,       // in the room; who was there before: `peers`, or `others`, or `room_complete`
    peer_joined,  // someone else came in (`peer`, when the dialect gives it)
    full,         // the join was refused because the room is full
    error,        // a server error with `code`
    relayed,      // a relay: `tag` when it carries one sigbench wrote, else foreign
    disconnect,   // the server ended the session in the protocol (`why`)
    violation,    // a frame that cannot be from a server of this dialect (`why`)
  };
  kind what = kind::ignored;
  std::string peer;
  std::vector<std::string> peers;
  bool peers_listed = false;   // joined: `peers` lists the members already there
  std::uint64_t others = 0;    // joined without a list: how many were there
  bool room_complete = false;  // joined: "not the first" and nothing more: the room is complete
  std::string code;
  std::optional<bench_tag> tag;
  std::string reply;
  std::string why;
};

class dialect {
 public:
  // A dialect from its definition; errors name the member at fault.
  // `source` names the definition in those errors (a file name, "sigkit").
  static result<dialect, std::string> from_json(const nlohmann::json& definition, const std::string& source);
  // A built-in name, or else the path of a dialect file.
  static result<dialect, std::string> load(const std::string& name_or_path);
  static std::span<const std::string_view> builtin_names();
  // The definition of a built-in, as a dialect file would hold it.
  static std::optional<std::string_view> builtin_definition(std::string_view name);

  const std::string& name() const noexcept { return name_; }
  framing wire() const noexcept { return framing_; }
  // A welcome (or the socket.io connect) must come before the peer may join.
  bool waits_for_welcome() const noexcept;
  // The relay templates address one receiver ({{to}}); otherwise relays are
  // broadcast and every member of the room may hear each one.
  bool addresses_peers() const noexcept { return addresses_; }
  bool can_send(outbound_kind k) const noexcept;

  // The frame's text (for socket.io, with its packet prefix).
  std::string encode(outbound_kind k, const fill& f) const;
  inbound decode(std::string_view frame) const;

  // Implementation detail, public for the loader's helpers.
  struct segment_part {
    std::string literal;   // text before the placeholder
    std::uint8_t hole;     // which placeholder follows (0: none, the end)
  };
  struct compiled_template {
    std::vector<segment_part> parts;
    bool present = false;
  };
  struct pointer {
    std::vector<std::string> tokens;
    std::string text;  // as written, for messages
    const nlohmann::json* find(const nlohmann::json& doc) const noexcept;
  };
  struct matcher {
    std::vector<std::pair<pointer, nlohmann::json>> match;  // a value that is an array: any of its elements
    std::optional<pointer> peer, peers, code, bench;
    std::vector<std::pair<pointer, nlohmann::json>> expect;  // welcome: must hold, else a violation
    std::uint64_t others = 0;
    bool all_others = false;
    bool matches(const nlohmann::json& doc) const;
  };

 private:
  inbound classify(const nlohmann::json& doc) const;

  std::string name_;
  framing framing_ = framing::json;
  compiled_template templates_[6];
  bool addresses_ = false;
  std::optional<matcher> welcome_, peer_joined_, full_, error_;
  std::vector<matcher> joined_, relayed_;
};

}  // namespace sigkit::bench
