// RFC 6455 framing, the writing half: frame headers, masking and close
// payloads. Pure functions over bytes; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sigkit::websocket {

// RFC 6455 §5.2:
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-------+-+-------------+-------------------------------+
//  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//  | |1|2|3|       |K|             |                               |
//  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//  |     Extended payload length continued, if payload len == 127  |
//  + - - - - - - - - - - - - - - - +-------------------------------+
//  |                               |Masking-key, if MASK set to 1  |
//  +-------------------------------+-------------------------------+
//  | Masking-key (continued)       |          Payload Data         |
//  +-------------------------------- - - - - - - - - - - - - - - - +
enum class opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};
constexpr bool is_control(opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// RFC 6455 §7.4.1 status codes (and RFC 6455 §11.7's registry).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;        // server shutting down
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;  // a binary frame where text is expected
inline constexpr std::uint16_t no_status = 1005;         // never on the wire: a close without a code
inline constexpr std::uint16_t abnormal = 1006;          // never on the wire: no close frame at all
inline constexpr std::uint16_t invalid_payload = 1007;   // text that is not UTF-8
inline constexpr std::uint16_t policy = 1008;
inline constexpr std::uint16_t too_big = 1009;
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t service_restart = 1012;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

// RFC 6455 §7.4: may a close frame carry `code`? 1000-1003 and 1007-1014
// (registered), 3000-4999 (libraries and applications); never 1004, 1005,
// 1006, 1015, nor anything below 1000 or above 4999.
bool is_valid_close_code(std::uint16_t code) noexcept;

// Who reads: a server reads masked frames and writes unmasked ones; a
// client the other way round (RFC 6455 §5.1).
enum class role : std::uint8_t { server, client };

inline constexpr std::size_t max_header_bytes = 14;   // 2 + 8 (length) + 4 (mask)
inline constexpr std::size_t max_control_payload = 125;

// The size of a header for a payload of `payload_size` bytes: 2, 4 or 10
// bytes, plus 4 when masked.
std::size_t header_size(std::uint64_t payload_size, bool masked) noexcept;

// Writes a frame header into `out`; returns its length. The length is always
// encoded in the fewest bytes (§5.2). With a mask key, MASK is set and the key
// follows the length; the caller masks the payload with apply_mask().
std::size_t write_header(std::span<char, max_header_bytes> out, opcode op, bool fin,
                         std::uint64_t payload_size,
                         std::optional<std::uint32_t> mask_key = std::nullopt) noexcept;

// XORs `data` with the masking key (§5.3), as if `data` began `offset` bytes
// into the payload, so a payload can be (un)masked in pieces. The key's
// first octet is its most significant byte as written on the wire.
void apply_mask(std::span<char> data, std::uint32_t mask_key, std::size_t offset = 0) noexcept;

// A whole, final, unmasked frame (server to client).
std::string server_frame(opcode op, std::string_view payload);

// The payload of a close frame (§5.5.1): the code in network order, then the
// reason, cut at a UTF-8 character boundary so the whole fits 125 bytes.
std::string close_payload(std::uint16_t code, std::string_view reason = {});

}  // namespace sigkit::websocket
