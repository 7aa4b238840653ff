// libFuzzer entry point for the envelope scanner behind proto::decode(). It is
// differential: for every text a WebSocket text frame can carry (valid UTF-8)
// that nests at most max_nesting deep, scan_envelope() must accept exactly
// what nlohmann::json::accept() accepts, and read from an object the same
// top-level `type`, `room`, `to`, `rid` (kind and value) and `from` as
// nlohmann::json's parse. A deeper text must be refused, as too deep when
// nlohmann::json accepts it; a byte order mark, which nlohmann::json skips,
// must be refused, and so must a NUL byte, after which nlohmann::json stops
// reading. decode() must never throw, and a relay it lets through
// must reach the receiver as JSON with the server's `from`.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/core/include \
//     tests/fuzz/envelope_fuzz.cpp lib/core/src/proto/*.cpp lib/core/src/websocket/utf8.cpp -o envelope_fuzz
//   mkdir -p corpus
//   printf '{"type":"join","room":"lobby","rid":7}' > corpus/join
//   printf '{"type":"offer","to":"Zq3k9TfA2mXw","sdp":"v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\n"}' > corpus/offer
//   printf '{"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 2122260223 192.0.2.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}' > corpus/candidate
//   printf '{"t\\u0079pe":"message","fr\\u006fm":"x","rid":-0,"n":[1.5e308,-0.0,18446744073709551616],"s":"\\ud83d\\ude00\\"\\\\\\/\\b\\f\\n\\r\\t"}' > corpus/escapes
//   printf '{"type":"ping","type":null,"rid":"r","a":{"type":"bye","from":1},"b":[true,false,null,{}]}' > corpus/shapes
//   printf '[[[[[[[[[[[[[[[[{"a":[]}]]]]]]]]]]]]]]]]' > corpus/deep
//   ./envelope_fuzz -max_len=8192 -max_total_time=180 corpus/
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sigkit/proto/envelope.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/websocket/utf8.hpp"

using namespace sigkit::proto;
using json = nlohmann::json;

namespace {

// abort() rather than assert(): the check must survive -DNDEBUG builds.
void require(bool ok) {
  if (!ok) std::abort();
}

// How many arrays and objects are open at most, counted without parsing:
// exact for JSON text, and for the part of any text the scanner accepted.
std::size_t deepest(std::string_view text) {
  std::size_t depth = 0, most = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      most = std::max(most, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return most;
}

// The member as nlohmann::json's document holds it, in the scanner's terms.
void require_same(const member_value& scanned, const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) {
    require(scanned.kind() == member_kind::absent);
  } else if (it->is_string()) {
    require(scanned.kind() == member_kind::string && scanned.text() == it->get_ref<const std::string&>());
  } else if (it->is_number_integer()) {
    require(scanned.kind() == member_kind::integer && scanned.text() == it->dump());
  } else {
    require(scanned.kind() == member_kind::other && scanned.text().empty());
  }
}

void compare(std::string_view text, const sigkit::result<envelope, envelope_error>& scanned) {
  const bool accepted = json::accept(text);
  if (deepest(text) > max_nesting) {
    require(!scanned);
    if (accepted) require(scanned.error().why == envelope_error::reason::too_deep);
    return;
  }
  require(scanned.ok() == accepted);
  if (!scanned) {
    require(scanned.error().why != envelope_error::reason::too_deep);
    return;
  }

  const auto document = json::parse(text);
  const envelope& e = *scanned;
  require(e.is_object == document.is_object());
  if (!document.is_object()) {
    for (const member_value* m : {&e.type, &e.room, &e.to, &e.rid}) require(m->kind() == member_kind::absent);
    require(!e.has_from);
    return;
  }
  require_same(e.type, document, "type");
  require_same(e.room, document, "room");
  require_same(e.to, document, "to");
  require_same(e.rid, document, "rid");
  require(e.has_from == document.contains("from"));
}

void check_scan(std::string_view text) {
  for (;;) {
    const auto scanned = scan_envelope(text);
    if (!scanned) require(scanned.error().offset <= text.size());
    // RFC 8259 §8.1 lets a parser skip a byte order mark; nlohmann::json
    // does, the scanner does not. The rest is compared as a text of its own.
    if (text.starts_with("\xEF\xBB\xBF")) {
      require(!scanned && scanned.error().offset == 0);
      text.remove_prefix(3);
      continue;
    }
    // nlohmann::json takes a NUL byte for the end of the input (as in a C
    // string) and ignores what follows it; to RFC 8259 it is a byte that
    // belongs nowhere in JSON text, and the scanner refuses it.
    if (const auto nul = text.find('\0'); nul != std::string_view::npos) {
      require(!scanned && scanned.error().offset <= nul);
      text = text.substr(0, nul);
      continue;
    }
    return compare(text, scanned);
  }
}

void check_decode(std::string_view text, bool valid_utf8) {
  const auto decoded = decode(text);  // an exception ends the run as a crash
  if (!decoded || !valid_utf8) return;
  require(scan_envelope(text).ok());
  if (!is_relay(decoded->type)) return;
  const std::string out = relay_text(decoded->relay_body, "PEER");
  require(json::accept(out));
  const auto relayed = json::parse(out);
  require(relayed.is_object() && relayed.value("from", "") == "PEER");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const bool valid_utf8 = sigkit::websocket::is_valid_utf8(text);
  if (valid_utf8) check_scan(text);
  check_decode(text, valid_utf8);
  return 0;
}
