#include "sigkit/websocket/reader.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

using namespace sigkit::websocket;
using kind = reader::event::kind;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

// What a user of the reader sees of an event, owned.
struct seen {
  kind what = kind::need_more;
  opcode type = opcode::text;
  std::string payload;
  std::uint16_t code = 0;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen& s) {
  return os << "{kind " << static_cast<int>(s.what) << ", op " << static_cast<int>(s.type) << ", code " << s.code
            << ", " << s.payload.size() << " bytes}";
}

seen message(opcode type, std::string payload) { return {kind::message, type, std::move(payload), 0}; }
seen control(kind what, std::string payload) {
  const opcode op = what == kind::ping ? opcode::ping : what == kind::pong ? opcode::pong : opcode::close;
  return {what, op, std::move(payload), 0};
}
seen closed(std::uint16_t code, std::string reason = {}) { return {kind::close, opcode::close, std::move(reason), code}; }
seen failed(std::uint16_t code) { return {kind::fail, opcode::text, {}, code}; }

// One direction of a connection as a server or client would run it: bytes
// arrive, are appended to what was left unconsumed, and the reader is asked
// for events until it needs more.
struct connection {
  reader r;
  std::string pending;
  std::vector<seen> events;
  std::size_t frame_bytes = 0;  // from the last need_more

  connection(role who, std::size_t limit) : r(who, limit) {}

  void receive(std::string_view more) {
    pending.append(more);
    for (;;) {
      std::size_t consumed = 0;
      const auto e = r.next(pending, consumed);
      REQUIRE(consumed <= pending.size());
      if (e.what != kind::need_more) events.push_back({e.what, e.type, std::string(e.payload), e.code});
      pending.erase(0, consumed);
      if (e.what == kind::need_more) {
        frame_bytes = e.frame_bytes;
        return;
      }
    }
  }
};

std::vector<seen> read_whole(role who, std::string_view stream, std::size_t limit = 1 << 20) {
  connection c(who, limit);
  c.receive(stream);
  return c.events;
}

std::vector<seen> read_in_pieces(role who, std::string_view stream, const std::vector<std::size_t>& cuts,
                                 std::size_t limit = 1 << 20) {
  connection c(who, limit);
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    c.receive(stream.substr(at, cut - at));
    at = cut;
  }
  c.receive(stream.substr(at));
  return c.events;
}

// A frame as the peer of `reader_role` sends it: masked when it comes from a
// client (the reader is a server), with the key varying so that no two
// frames of a test share one.
std::uint32_t next_key = 0x37fa213d;
std::string frame_to(role reader_role, opcode op, std::string_view payload, bool fin = true, int rsv = 0) {
  std::array<char, max_header_bytes> header{};
  std::optional<std::uint32_t> key;
  if (reader_role == role::server) key = next_key += 0x01020305;
  const std::size_t n = write_header(header, op, fin, payload.size(), key);
  header[0] = static_cast<char>(header[0] | rsv << 4);
  std::string f(header.data(), n);
  std::string body(payload);
  if (key) apply_mask(body, *key);
  return f + body;
}
std::string to_server(opcode op, std::string_view payload, bool fin = true) {
  return frame_to(role::server, op, payload, fin);
}
std::string to_client(opcode op, std::string_view payload, bool fin = true) {
  return frame_to(role::client, op, payload, fin);
}

// A header with any length field, for lengths a test will not send.
std::string raw_header(int first, std::uint64_t length, bool masked) {
  std::array<char, max_header_bytes> header{};
  std::optional<std::uint32_t> key;
  if (masked) key = 0x11223344;
  const std::size_t n = write_header(header, opcode::text, true, length, key);
  header[0] = static_cast<char>(first);
  return std::string(header.data(), n);
}

const std::vector<role> both_roles = {role::server, role::client};

}  // namespace

// ---- RFC 6455 §5.7, byte for byte ------------------------------------------

TEST_CASE("RFC 6455 5.7: a client reads the unmasked Hello", "[websocket]") {
  CHECK(read_whole(role::client, bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) ==
        std::vector{message(opcode::text, "Hello")});
}

TEST_CASE("RFC 6455 5.7: a server reads the masked Hello", "[websocket]") {
  CHECK(read_whole(role::server, bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})) ==
        std::vector{message(opcode::text, "Hello")});
}

TEST_CASE("RFC 6455 5.7: a client reads the fragmented Hel + lo as one message", "[websocket]") {
  CHECK(read_whole(role::client, bytes({0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f})) ==
        std::vector{message(opcode::text, "Hello")});
}

TEST_CASE("RFC 6455 5.7: a client reads the unmasked ping, a server the masked pong", "[websocket]") {
  CHECK(read_whole(role::client, bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) ==
        std::vector{control(kind::ping, "Hello")});
  CHECK(read_whole(role::server, bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})) ==
        std::vector{control(kind::pong, "Hello")});
}

TEST_CASE("RFC 6455 5.7: a client reads 256-byte and 64 KiB binary frames", "[websocket]") {
  std::string data(65536, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  const auto f256 = bytes({0x82, 0x7E, 0x01, 0x00}) + data.substr(0, 256);
  const auto f64k = bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}) + data;
  CHECK(read_whole(role::client, f256 + f64k) ==
        std::vector{message(opcode::binary, data.substr(0, 256)), message(opcode::binary, data)});
}

TEST_CASE("the masked Hello is a protocol error for a client, the unmasked one for a server", "[websocket]") {
  CHECK(read_whole(role::client, bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})) ==
        std::vector{failed(close_code::protocol_error)});
  CHECK(read_whole(role::server, bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})) ==
        std::vector{failed(close_code::protocol_error)});
}

// ---- Consuming, zero copy, need_more ---------------------------------------

TEST_CASE("a single-frame message is unmasked in place and returned where it lies", "[websocket]") {
  std::string input = to_server(opcode::text, "in place") + to_server(opcode::ping, "p");
  reader r(role::server, 1024);
  std::size_t consumed = 0;
  const auto e = r.next(input, consumed);
  REQUIRE(e.what == kind::message);
  CHECK(e.payload == "in place");
  CHECK(e.payload.data() == input.data() + 6);
  CHECK(consumed == 6 + 8);
  CHECK(r.buffered_bytes() == 0);
  CHECK_FALSE(r.finished());
}

TEST_CASE("need_more reports the frame size once its header is complete", "[websocket]") {
  const std::string f = to_server(opcode::binary, std::string(300, 'b'));
  REQUIRE(f.size() == 2 + 2 + 4 + 300);
  for (std::size_t have = 0; have < f.size(); ++have) {
    reader r(role::server, 1024);
    std::string input = f.substr(0, have);
    std::size_t consumed = 99;
    const auto e = r.next(input, consumed);
    REQUIRE(e.what == kind::need_more);
    CHECK(consumed == 0);
    CHECK(e.frame_bytes == (have < 8 ? 0 : f.size()));
    CHECK(input == f.substr(0, have));  // nothing unconsumed is touched
  }
}

TEST_CASE("fragments are consumed and read on in the same call", "[websocket]") {
  const auto first = to_client(opcode::binary, "abc", false);
  const auto second = to_client(opcode::continuation, "def", false);
  const auto last = to_client(opcode::continuation, "gh", true);
  reader r(role::client, 1024);

  std::string input = first + second + last.substr(0, 3);
  std::size_t consumed = 0;
  auto e = r.next(input, consumed);
  CHECK(e.what == kind::need_more);
  CHECK(e.frame_bytes == last.size());
  CHECK(consumed == first.size() + second.size());
  CHECK(r.buffered_bytes() == 6);

  input = last;
  e = r.next(input, consumed);
  REQUIRE(e.what == kind::message);
  CHECK(e.type == opcode::binary);
  CHECK(e.payload == "abcdefgh");
  CHECK(consumed == last.size());
  // The reader's copy is not in the caller's input.
  CHECK((e.payload.data() < input.data() || e.payload.data() >= input.data() + input.size()));
  CHECK(r.buffered_bytes() == 0);

  input.clear();
  e = r.next(input, consumed);
  CHECK(e.what == kind::need_more);
  CHECK(consumed == 0);
}

TEST_CASE("every split of a stream gives the events of the whole stream", "[websocket]") {
  for (role who : both_roles) {
    std::string text(200, 't');
    text += "\xE2\x82\xAC\xF0\x9D\x84\x9E \xC3\xA9";
    const std::string stream =
        frame_to(who, opcode::text, "Hello") + frame_to(who, opcode::text, "frag", false) +
        frame_to(who, opcode::ping, "are you there") + frame_to(who, opcode::continuation, "mented \xE2\x82", false) +
        frame_to(who, opcode::pong, "") + frame_to(who, opcode::continuation, "\xAC", true) +
        frame_to(who, opcode::binary, std::string(300, '\x01')) + frame_to(who, opcode::text, text) +
        frame_to(who, opcode::binary, "", false) + frame_to(who, opcode::continuation, "", true) +
        frame_to(who, opcode::close, close_payload(close_code::going_away, "bye")) +
        frame_to(who, opcode::text, "after close");
    const std::vector<seen> expected = {
        message(opcode::text, "Hello"),
        control(kind::ping, "are you there"),
        control(kind::pong, ""),
        message(opcode::text, "fragmented \xE2\x82\xAC"),
        message(opcode::binary, std::string(300, '\x01')),
        message(opcode::text, text),
        message(opcode::binary, ""),
        closed(close_code::going_away, "bye"),
    };
    REQUIRE(read_whole(who, stream) == expected);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("cut at " << cut);
      REQUIRE(read_in_pieces(who, stream, {cut}) == expected);
    }
    std::vector<std::size_t> every_byte;
    for (std::size_t at = 1; at < stream.size(); ++at) every_byte.push_back(at);
    CHECK(read_in_pieces(who, stream, every_byte) == expected);
    // Two cuts, every pair in the first 40 bytes and around the fragments.
    for (std::size_t a = 0; a < 40; ++a)
      for (std::size_t b = a; b < 60; ++b) REQUIRE(read_in_pieces(who, stream, {a, b}) == expected);
  }
}

TEST_CASE("control frames between fragments come out while the message stays in progress", "[websocket]") {
  connection c(role::server, 1024);
  c.receive(to_server(opcode::text, "one ", false));
  CHECK(c.r.buffered_bytes() == 4);
  c.receive(to_server(opcode::ping, "1"));
  c.receive(to_server(opcode::continuation, "two ", false));
  c.receive(to_server(opcode::pong, "2") + to_server(opcode::ping, "3"));
  CHECK(c.r.buffered_bytes() == 8);
  c.receive(to_server(opcode::continuation, "three", true));
  CHECK(c.events == std::vector{control(kind::ping, "1"), control(kind::pong, "2"), control(kind::ping, "3"),
                                message(opcode::text, "one two three")});
  CHECK(c.r.buffered_bytes() == 0);
  CHECK_FALSE(c.r.finished());
}

TEST_CASE("a close between fragments ends the message and the reader", "[websocket]") {
  connection c(role::server, 1024);
  c.receive(to_server(opcode::binary, "part", false) + to_server(opcode::close, close_payload(1000)) +
            to_server(opcode::continuation, "rest", true));
  CHECK(c.events == std::vector{closed(1000)});
  CHECK(c.r.finished());
  CHECK(c.r.buffered_bytes() == 0);
  CHECK(c.pending.empty());
}

TEST_CASE("a long fragmented message grows the reader's buffer", "[websocket]") {
  std::string stream;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    const std::string piece(1000 + i, static_cast<char>('a' + i % 26));
    expected += piece;
    stream += to_client(i == 0 ? opcode::text : opcode::continuation, piece, i == 199);
  }
  CHECK(read_whole(role::client, stream, expected.size()) == std::vector{message(opcode::text, expected)});
  CHECK(read_whole(role::client, stream, expected.size() - 1) == std::vector{failed(close_code::too_big)});
}

// ---- Close frames -----------------------------------------------------------

TEST_CASE("close: the peer's code and reason, 1005 when it sent none", "[websocket]") {
  CHECK(read_whole(role::server, to_server(opcode::close, "")) == std::vector{closed(close_code::no_status)});
  CHECK(read_whole(role::server, to_server(opcode::close, close_payload(1000))) == std::vector{closed(1000)});
  CHECK(read_whole(role::client, to_client(opcode::close, close_payload(4001, "room closed \xE2\x82\xAC"))) ==
        std::vector{closed(4001, "room closed \xE2\x82\xAC")});
  const std::string longest(123, 'r');
  CHECK(read_whole(role::client, to_client(opcode::close, close_payload(1001, longest))) ==
        std::vector{closed(1001, longest)});
}

TEST_CASE("close: codes that may be sent are accepted, the others are a protocol error", "[websocket]") {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    INFO(code);
    CHECK(read_whole(role::server, to_server(opcode::close, close_payload(code, "x"))) ==
          std::vector{closed(code, "x")});
  }
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    INFO(code);
    CHECK(read_whole(role::server, to_server(opcode::close, close_payload(code))) ==
          std::vector{failed(close_code::protocol_error)});
  }
}

TEST_CASE("close: a one-byte payload is a protocol error, a reason not UTF-8 is 1007", "[websocket]") {
  CHECK(read_whole(role::server, to_server(opcode::close, "\x03")) ==
        std::vector{failed(close_code::protocol_error)});
  CHECK(read_whole(role::server, to_server(opcode::close, close_payload(1000, "bad \xC3"))) ==
        std::vector{failed(close_code::invalid_payload)});
  CHECK(read_whole(role::client, to_client(opcode::close, close_payload(1000, "\xED\xA0\x80"))) ==
        std::vector{failed(close_code::invalid_payload)});
}

TEST_CASE("after close or fail the reader consumes and ignores everything", "[websocket]") {
  for (const std::string& first : {to_server(opcode::close, ""), to_server(opcode::text, "x", false) + "\x83"}) {
    reader r(role::server, 1024);
    std::string input = first + to_server(opcode::text, "ignored");
    std::size_t consumed = 0;
    const auto e = r.next(input, consumed);
    CHECK((e.what == kind::close || e.what == kind::fail));
    CHECK(consumed == input.size());
    CHECK(r.finished());
    std::string more = to_server(opcode::text, "also ignored") + "\xFF\xFF";
    const auto after = r.next(more, consumed);
    CHECK(after.what == kind::need_more);
    CHECK(consumed == more.size());
  }
}

// ---- Protocol errors --------------------------------------------------------

TEST_CASE("RSV1, RSV2 and RSV3 are a protocol error: no extension is negotiated", "[websocket]") {
  for (role who : both_roles) {
    // 4 is RSV1, the bit permessage-deflate would set on a compressed
    // message; 2 is RSV2, 1 RSV3.
    for (int rsv : {1, 2, 4, 7}) {
      INFO("rsv " << rsv);
      const auto f = frame_to(who, opcode::text, "compressed?", true, rsv);
      CHECK(read_whole(who, f) == std::vector{failed(close_code::protocol_error)});
      // Decided from the first byte alone.
      CHECK(read_whole(who, f.substr(0, 1)) == std::vector{failed(close_code::protocol_error)});
      CHECK(read_whole(who, frame_to(who, opcode::ping, "", true, rsv)) ==
            std::vector{failed(close_code::protocol_error)});
    }
  }
}

TEST_CASE("reserved opcodes are a protocol error", "[websocket]") {
  for (int op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    INFO("opcode " << op);
    CHECK(read_whole(role::client, bytes({0x80 | op, 0x00})) == std::vector{failed(close_code::protocol_error)});
    CHECK(read_whole(role::client, bytes({0x80 | op})) == std::vector{failed(close_code::protocol_error)});
  }
}

TEST_CASE("a fragmented or oversized control frame is a protocol error", "[websocket]") {
  for (opcode op : {opcode::ping, opcode::pong, opcode::close}) {
    CHECK(read_whole(role::server, frame_to(role::server, op, "", false)) ==
          std::vector{failed(close_code::protocol_error)});
    // 126 bytes, known from the second byte of the header.
    const auto big = frame_to(role::server, op, std::string(126, 'p'));
    CHECK(read_whole(role::server, big) == std::vector{failed(close_code::protocol_error)});
    CHECK(read_whole(role::server, big.substr(0, 2)) == std::vector{failed(close_code::protocol_error)});
  }
  CHECK(read_whole(role::server, to_server(opcode::ping, std::string(125, 'p'))) ==
        std::vector{control(kind::ping, std::string(125, 'p'))});
}

TEST_CASE("a continuation without a message, or a new message inside one, is a protocol error", "[websocket]") {
  CHECK(read_whole(role::server, to_server(opcode::continuation, "orphan")) ==
        std::vector{failed(close_code::protocol_error)});
  CHECK(read_whole(role::server, to_server(opcode::continuation, "orphan", false)) ==
        std::vector{failed(close_code::protocol_error)});
  CHECK(read_whole(role::server, to_server(opcode::text, "Hello") + to_server(opcode::continuation, "more")) ==
        std::vector{message(opcode::text, "Hello"), failed(close_code::protocol_error)});
  for (opcode second : {opcode::text, opcode::binary}) {
    CHECK(read_whole(role::client, to_client(opcode::text, "a", false) + to_client(second, "b")) ==
          std::vector{failed(close_code::protocol_error)});
    CHECK(read_whole(role::client, to_client(opcode::binary, "a", false) + to_client(second, "b", false)) ==
          std::vector{failed(close_code::protocol_error)});
  }
}

TEST_CASE("a 64-bit length with its top bit set is a protocol error", "[websocket]") {
  for (role who : both_roles) {
    const auto h = raw_header(0x82, std::uint64_t{1} << 63, who == role::server);
    CHECK(read_whole(who, h.substr(0, 10), ~std::size_t{0}) == std::vector{failed(close_code::protocol_error)});
  }
}

TEST_CASE("the message size limit is enforced from the header, before the payload", "[websocket]") {
  for (role who : both_roles) {
    const bool masked = who == role::server;
    // Exactly the limit is fine.
    CHECK(read_whole(who, frame_to(who, opcode::binary, std::string(100, 'x')), 100) ==
          std::vector{message(opcode::binary, std::string(100, 'x'))});
    // One more fails with no payload at all, the moment the length is known
    // (the mask key need not have arrived).
    for (std::uint64_t length : {std::uint64_t{101}, std::uint64_t{70000}, std::uint64_t{1} << 40}) {
      const auto h = raw_header(0x82, length, masked);
      const std::size_t length_known = h.size() - (masked ? 4 : 0);
      CHECK(read_whole(who, h.substr(0, length_known), 100) == std::vector{failed(close_code::too_big)});
      CHECK(read_whole(who, h, 100) == std::vector{failed(close_code::too_big)});
    }
    // Fragments so far count: 60 + 40 fits, 60 + 41 does not.
    const auto first = frame_to(who, opcode::text, std::string(60, 'a'), false);
    CHECK(read_whole(who, first + frame_to(who, opcode::continuation, std::string(40, 'b')), 100) ==
          std::vector{message(opcode::text, std::string(60, 'a') + std::string(40, 'b'))});
    CHECK(read_whole(who, first + raw_header(0x80, 41, masked), 100) == std::vector{failed(close_code::too_big)});
    // Control frames have their own bound (125), not the message limit.
    CHECK(read_whole(who, frame_to(who, opcode::ping, std::string(50, 'p')), 10) ==
          std::vector{control(kind::ping, std::string(50, 'p'))});
  }
}

// ---- UTF-8 ------------------------------------------------------------------

TEST_CASE("a text message that is not UTF-8 fails with 1007, a binary one does not", "[websocket]") {
  for (role who : both_roles) {
    for (std::string bad : {"\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x80", "caf\xC3", "\xFF"}) {
      CHECK(read_whole(who, frame_to(who, opcode::text, bad)) == std::vector{failed(close_code::invalid_payload)});
      CHECK(read_whole(who, frame_to(who, opcode::binary, bad)) == std::vector{message(opcode::binary, bad)});
    }
  }
}

TEST_CASE("UTF-8 across fragments split inside a character, at every byte", "[websocket]") {
  struct sample {
    std::string text;
    bool valid;
  };
  const std::vector<sample> samples = {
      {"\xE2\x82\xAC and \xF0\x9D\x84\x9E and \xC3\xA9", true},
      {"a\xC0\x80z", false},                  // overlong
      {"a\xE0\x9F\xBFz", false},              // overlong
      {"a\xED\xA0\x80z", false},              // U+D800
      {"a\xF4\x90\x80\x80z", false},          // above U+10FFFF
      {"abc\xF0\x9D\x84", false},             // truncated at the end of the message
      {"abc\xC3\xA9\xA9", false},             // stray continuation byte
  };
  for (role who : both_roles) {
    for (const auto& s : samples) {
      const std::vector<seen> expected = {s.valid ? message(opcode::text, s.text) : failed(close_code::invalid_payload)};
      for (std::size_t cut = 0; cut <= s.text.size(); ++cut) {
        INFO("cut at " << cut);
        const std::string stream = frame_to(who, opcode::text, s.text.substr(0, cut), false) +
                                   frame_to(who, opcode::continuation, s.text.substr(cut), true);
        REQUIRE(read_whole(who, stream) == expected);
        // Three fragments, a ping in the middle.
        const std::size_t mid = cut / 2;
        const std::string three = frame_to(who, opcode::text, s.text.substr(0, mid), false) +
                                  frame_to(who, opcode::continuation, s.text.substr(mid, cut - mid), false) +
                                  frame_to(who, opcode::ping, "") +
                                  frame_to(who, opcode::continuation, s.text.substr(cut), true);
        const auto events = read_whole(who, three);
        REQUIRE(!events.empty());
        REQUIRE(events.back() == expected.back());
      }
    }
  }
}

TEST_CASE("invalid UTF-8 fails at the fragment that carries it, before the message ends", "[websocket]") {
  connection c(role::server, 1024);
  c.receive(to_server(opcode::text, "fine so far ", false));
  CHECK(c.events.empty());
  c.receive(to_server(opcode::continuation, "not \xED\xA0\x80", false));
  CHECK(c.events == std::vector{failed(close_code::invalid_payload)});
  CHECK(c.r.finished());
}

TEST_CASE("invalid UTF-8 fails before the rest of its frame arrives", "[websocket]") {
  for (role who : both_roles) {
    std::string payload(1000, 'a');
    payload[500] = '\xFF';
    const auto f = frame_to(who, opcode::text, payload);
    const std::size_t header = f.size() - payload.size();
    // Up to the bad byte the frame is only incomplete...
    connection c(who, 4096);
    const std::size_t bad_at = header + 500;
    for (std::size_t at = 0; at < bad_at; at += 7)
      c.receive(std::string_view(f).substr(at, std::min<std::size_t>(7, bad_at - at)));
    CHECK(c.events.empty());
    CHECK(c.frame_bytes == f.size());
    // ...and the bad byte fails it.
    c.receive(std::string_view(f).substr(header + 500, 1));
    CHECK(c.events == std::vector{failed(close_code::invalid_payload)});
  }
  // And within a fragmented message, the partial fragment's prefix counts.
  connection c(role::server, 4096);
  c.receive(to_server(opcode::text, "\xF0\x9D", false));
  const auto f = to_server(opcode::continuation, "\x84\x9E ok \xC3", false);
  c.receive(f.substr(0, f.size() - 1));
  CHECK(c.events.empty());
  c.receive(f.substr(f.size() - 1) + to_server(opcode::continuation, "\x41", true));
  CHECK(c.events == std::vector{failed(close_code::invalid_payload)});
}

TEST_CASE("a partial frame that has been looked at is left intact for the caller", "[websocket]") {
  const auto f = to_server(opcode::text, "a text frame of some length \xE2\x82\xAC");
  reader r(role::server, 1024);
  for (std::size_t have = 0; have < f.size(); ++have) {
    std::string input = f.substr(0, have);
    std::size_t consumed = 1;
    REQUIRE(r.next(input, consumed).what == kind::need_more);
    REQUIRE(consumed == 0);
    REQUIRE(input == f.substr(0, have));
  }
  std::string input = f;
  std::size_t consumed = 0;
  const auto e = r.next(input, consumed);
  CHECK(e.what == kind::message);
  CHECK(e.payload == "a text frame of some length \xE2\x82\xAC");
}

TEST_CASE("the reader stays small", "[websocket]") {
  // It lives in every idle connection: a pointer, three sizes and a few
  // bytes of state, no buffer.
  CHECK(sizeof(reader) <= 5 * sizeof(void*));
}
