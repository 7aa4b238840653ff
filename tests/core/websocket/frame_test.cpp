#include "sigkit/websocket/frame.hpp"

#include <catch2/catch.hpp>

#include <array>
#include <initializer_list>
#include <string>
#include <vector>

#include "sigkit/websocket/utf8.hpp"

using namespace sigkit::websocket;

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

std::string header(opcode op, bool fin, std::uint64_t size, std::optional<std::uint32_t> key = std::nullopt) {
  std::array<char, max_header_bytes> out{};
  const std::size_t n = write_header(out, op, fin, size, key);
  REQUIRE(n == header_size(size, key.has_value()));
  return std::string(out.data(), n);
}

// The key of RFC 6455 §5.7's masked examples: 37 fa 21 3d on the wire.
constexpr std::uint32_t rfc_key = 0x37fa213d;

}  // namespace

TEST_CASE("RFC 6455 5.7: a single-frame unmasked text message", "[websocket]") {
  const auto expected = bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f});
  CHECK(header(opcode::text, true, 5) == expected.substr(0, 2));
  CHECK(server_frame(opcode::text, "Hello") == expected);
}

TEST_CASE("RFC 6455 5.7: a single-frame masked text message", "[websocket]") {
  const auto expected = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  std::string payload = "Hello";
  apply_mask(payload, rfc_key);
  CHECK(header(opcode::text, true, 5, rfc_key) + payload == expected);
  // Masking is its own inverse.
  apply_mask(payload, rfc_key);
  CHECK(payload == "Hello");
}

TEST_CASE("RFC 6455 5.7: a fragmented unmasked text message", "[websocket]") {
  CHECK(header(opcode::text, false, 3) + "Hel" == bytes({0x01, 0x03, 0x48, 0x65, 0x6c}));
  CHECK(header(opcode::continuation, true, 2) + "lo" == bytes({0x80, 0x02, 0x6c, 0x6f}));
}

TEST_CASE("RFC 6455 5.7: an unmasked ping and a masked pong", "[websocket]") {
  CHECK(server_frame(opcode::ping, "Hello") == bytes({0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f}));
  std::string payload = "Hello";
  apply_mask(payload, rfc_key);
  CHECK(header(opcode::pong, true, 5, rfc_key) + payload ==
        bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST_CASE("RFC 6455 5.7: 256-byte and 64 KiB binary messages in one unmasked frame", "[websocket]") {
  const std::string small(256, '\x5a');
  const auto f256 = server_frame(opcode::binary, small);
  CHECK(f256.substr(0, 4) == bytes({0x82, 0x7E, 0x01, 0x00}));
  CHECK(f256.size() == 4 + 256);
  CHECK(f256.substr(4) == small);

  const std::string big(65536, '\xa5');
  const auto f64k = server_frame(opcode::binary, big);
  CHECK(f64k.substr(0, 10) == bytes({0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00}));
  CHECK(f64k.size() == 10 + 65536);
  CHECK(f64k.substr(10) == big);
}

TEST_CASE("write_header encodes the length in the fewest bytes", "[websocket]") {
  CHECK(header(opcode::binary, true, 0) == bytes({0x82, 0x00}));
  CHECK(header(opcode::binary, true, 125) == bytes({0x82, 125}));
  CHECK(header(opcode::binary, true, 126) == bytes({0x82, 126, 0x00, 126}));
  CHECK(header(opcode::binary, true, 0xFFFF) == bytes({0x82, 126, 0xFF, 0xFF}));
  CHECK(header(opcode::binary, true, 0x10000) == bytes({0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  CHECK(header(opcode::binary, true, 0x0123456789ABCDEFull) ==
        bytes({0x82, 127, 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF}));
  CHECK(header(opcode::binary, false, 0x10000, 0x01020304) ==
        bytes({0x02, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}));
  CHECK(header(opcode::close, true, 2) == bytes({0x88, 0x02}));
}

TEST_CASE("header_size counts the length field and the mask key", "[websocket]") {
  CHECK(header_size(0, false) == 2);
  CHECK(header_size(125, false) == 2);
  CHECK(header_size(126, false) == 4);
  CHECK(header_size(65535, false) == 4);
  CHECK(header_size(65536, false) == 10);
  CHECK(header_size(125, true) == 6);
  CHECK(header_size(126, true) == 8);
  CHECK(header_size(~std::uint64_t{0} >> 1, true) == max_header_bytes);
}

TEST_CASE("apply_mask matches octet-by-octet masking at every length, offset and alignment", "[websocket]") {
  const std::uint32_t key = 0xA1B2C3D4;
  const unsigned char key_octets[4] = {0xA1, 0xB2, 0xC3, 0xD4};
  std::string buffer(80, '\0');
  for (std::size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<char>(i * 37 + 11);
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t length = 0; start + length <= buffer.size(); ++length) {
      for (std::size_t offset = 0; offset < 5; ++offset) {
        std::string masked = buffer;
        apply_mask(std::span<char>(masked.data() + start, length), key, offset);
        std::string expected = buffer;
        for (std::size_t i = 0; i < length; ++i)
          expected[start + i] = static_cast<char>(expected[start + i] ^ key_octets[(offset + i) % 4]);
        REQUIRE(masked == expected);
      }
    }
  }
}

TEST_CASE("apply_mask in pieces equals apply_mask in one go", "[websocket]") {
  std::string whole(100, 'x');
  for (std::size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<char>(i);
  std::string pieces = whole;
  apply_mask(whole, rfc_key);
  for (std::size_t cut = 0; cut <= pieces.size(); ++cut) {
    std::string p = pieces;
    apply_mask(std::span<char>(p.data(), cut), rfc_key, 0);
    apply_mask(std::span<char>(p.data() + cut, p.size() - cut), rfc_key, cut);
    REQUIRE(p == whole);
  }
}

TEST_CASE("is_valid_close_code allows what RFC 6455 7.4 allows on the wire", "[websocket]") {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999})
    CHECK(is_valid_close_code(code));
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535})
    CHECK_FALSE(is_valid_close_code(code));
}

TEST_CASE("close_payload is the code in network order, then the reason", "[websocket]") {
  CHECK(close_payload(1000) == bytes({0x03, 0xE8}));
  CHECK(close_payload(close_code::going_away, "bye") == bytes({0x03, 0xE9}) + "bye");
  CHECK(close_payload(4999, "") == bytes({0x13, 0x87}));
}

TEST_CASE("close_payload keeps a reason that fits and cuts a long one to 125 bytes", "[websocket]") {
  const std::string fits(123, 'r');
  CHECK(close_payload(1000, fits).size() == 125);
  CHECK(close_payload(1000, fits).substr(2) == fits);
  const std::string too_long(200, 'r');
  CHECK(close_payload(1000, too_long) == bytes({0x03, 0xE8}) + std::string(123, 'r'));
}

TEST_CASE("close_payload cuts the reason at a UTF-8 character boundary", "[websocket]") {
  // "é" is 2 bytes, "€" 3, "𝄞" 4: for each, and each ASCII prefix length
  // that moves the cut across the character, the result is the longest
  // whole-character prefix that fits.
  for (std::string character : {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9D\x84\x9E"}) {
    for (std::size_t ascii = 0; ascii < 8; ++ascii) {
      std::string reason(ascii, 'a');
      while (reason.size() < 200) reason += character;
      const auto payload = close_payload(1001, reason);
      REQUIRE(payload.size() <= 125);
      REQUIRE(payload.size() > 125 - character.size());
      const auto cut = payload.substr(2);
      REQUIRE(reason.compare(0, cut.size(), cut) == 0);
      REQUIRE(is_valid_utf8(cut));
    }
  }
}
