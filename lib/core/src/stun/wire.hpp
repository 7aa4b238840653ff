// Private to lib/src/stun: network-order reads and writes shared by the
// codec's translation units. Callers check bounds before calling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sigkit::stun::wire {

inline std::uint16_t read_u16(std::span<const std::byte> b, std::size_t at) noexcept {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(b[at]) << 8) | std::to_integer<unsigned>(b[at + 1]));
}

inline std::uint32_t read_u32(std::span<const std::byte> b, std::size_t at) noexcept {
  return (static_cast<std::uint32_t>(read_u16(b, at)) << 16) | read_u16(b, at + 2);
}

inline void put_u16(std::vector<std::byte>& out, std::uint16_t v) {
  out.push_back(static_cast<std::byte>(v >> 8));
  out.push_back(static_cast<std::byte>(v & 0xFF));
}

inline void put_u32(std::vector<std::byte>& out, std::uint32_t v) {
  put_u16(out, static_cast<std::uint16_t>(v >> 16));
  put_u16(out, static_cast<std::uint16_t>(v & 0xFFFF));
}

inline void write_u16(std::span<std::byte> b, std::size_t at, std::uint16_t v) noexcept {
  b[at] = static_cast<std::byte>(v >> 8);
  b[at + 1] = static_cast<std::byte>(v & 0xFF);
}

inline void write_u32(std::span<std::byte> b, std::size_t at, std::uint32_t v) noexcept {
  write_u16(b, at, static_cast<std::uint16_t>(v >> 16));
  write_u16(b, at + 2, static_cast<std::uint16_t>(v & 0xFFFF));
}

// RFC 8489 §14: values are padded to a multiple of 4 bytes.
constexpr std::size_t padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

}  // namespace sigkit::stun::wire

// ---------------------------------------------------------------------------
// Shared between message.cpp (parse) and integrity.cpp (verify): one walker,
// so the bytes the verifier hashes are exactly the bytes parse accepted.

#include <array>
#include <optional>

#include "sigkit/stun/message.hpp"

namespace sigkit::stun::wire {

// Checks the 20-byte header against the size of the span (RFC 8489 §5-6).
std::optional<parse_error> check_header(std::span<const std::byte> bytes) noexcept;

// Calls f(type, offset_of_attribute_header, value_span) for every attribute,
// in order, until f returns false. Assumes check_header() passed; reports a
// truncated attribute if one runs past the message.
template <class F>
std::optional<parse_error> for_each_attribute(std::span<const std::byte> bytes, F&& f) {
  const std::size_t end = bytes.size();
  std::size_t at = header_size;
  while (at < end) {
    if (end - at < 4) return parse_error{parse_errc::truncated_attribute, at};
    const std::uint16_t type = read_u16(bytes, at);
    const std::size_t length = read_u16(bytes, at + 2);
    if (length > end - at - 4) return parse_error{parse_errc::truncated_attribute, at};
    // The message length is a multiple of 4 and so is `at`, so a value that
    // fits also has room for its padding.
    if (!f(type, at, bytes.subspan(at + 4, length))) return std::nullopt;
    at += 4 + padded(length);
  }
  return std::nullopt;
}

// RFC 8489 §14.7: FINGERPRINT is the CRC-32 XORed with "STUN".
inline constexpr std::uint32_t fingerprint_xor = 0x5354554EU;

using sha1_digest = std::array<std::byte, 20>;
sha1_digest hmac_sha1(std::span<const std::byte> key, std::span<const std::byte> data);

}  // namespace sigkit::stun::wire
