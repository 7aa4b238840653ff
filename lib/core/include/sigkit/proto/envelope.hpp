// The envelope of a client frame (protocol.md, "Envelope"): one pass over
// the JSON text that validates all of it and reads only the top-level members
// the server acts on (`type`, `room`, `to`, `rid`, a refresh's `token`, and whether there is a
// `from`). Payload members, such as an SDP of several KiB, are skipped eight
// bytes at a time and never copied.
//
// Accepted is exactly a JSON text of RFC 8259, and nothing else:
// - the grammar of RFC 8259 §2-§7; insignificant whitespace is space, tab, LF
//   and CR only (§2); no byte order mark (§8.1), no comments, no trailing
//   comma, nothing but whitespace after the top-level value, which may be of
//   any type (decode() is the one to insist on an object);
// - strings without raw control characters (U+0000 to U+001F) and with the
//   escapes \" \\ \/ \b \f \n \r \t \uXXXX only; an escaped high surrogate
//   must be followed by an escaped low surrogate, and a low surrogate on its
//   own is an error (§7, §8.2);
// - numbers whose value a double can hold: one that overflows it (1e400) is
//   an error, as §6 allows and as nlohmann::json, which parses a frame again
//   when its `from` must be removed, rejects it too; underflow (1e-400) is
//   fine;
// - at most max_nesting arrays and objects open at once; the one that opens
//   deeper is an error (too_deep). There is no recursion, so hostile depth
//   costs no stack, but frames relayed to browsers and native apps must stay
//   parseable by their JSON libraries.
//
// The text must be valid UTF-8 and is not checked again: the WebSocket layer
// validates every text frame before it is decoded (RFC 6455 §8.1), so bytes
// of 0x80 and above inside a string are taken as they are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::proto {

inline constexpr std::size_t max_nesting = 512;

namespace detail {
class envelope_scanner;
}

// What a top-level member holds, in the terms decode() needs.
enum class member_kind : std::uint8_t {
  absent,   // no such member
  string,
  integer,  // an integer that fits int64 or uint64, so it is exact everywhere
  other,    // null, true, false, an object, an array, or any other number
};

class member_value {
 public:
  member_kind kind() const noexcept { return kind_; }

  // A string's value with its escapes resolved, or an integer's digits as a
  // JSON library prints them (`-0` is `0`); empty for the other kinds. Unless
  // an escape had to be resolved this views the scanned text, so it is valid
  // while both the text and this value are.
  std::string_view text() const noexcept { return decoded_used_ ? std::string_view(decoded_) : view_; }

 private:
  friend class detail::envelope_scanner;

  member_kind kind_ = member_kind::absent;
  bool decoded_used_ = false;
  std::string_view view_;
  std::string decoded_;  // only for a string with escapes
};

struct envelope {
  bool is_object = false;  // false: valid JSON, but not an object (no members then)
  member_value type, room, to, rid, token;  // a duplicated key: the last one wins
  bool has_from = false;             // a top-level `from`, whatever its value
};

struct envelope_error {
  enum class reason : std::uint8_t {
    syntax,        // not JSON text (RFC 8259 grammar)
    out_of_range,  // a number that overflows a double
    too_deep,      // more than max_nesting arrays and objects open at once
  };
  reason why;
  std::size_t offset;  // the byte at which the text stopped being acceptable
};

// Validates `text` as a whole and reads its envelope. Allocates only for the
// member strings that hold escapes.
result<envelope, envelope_error> scan_envelope(std::string_view text);

}  // namespace sigkit::proto
