// TURN ChannelData (RFC 8656 §12.4) and the sans-I/O reassembler that cuts
// a TCP/TLS byte stream into STUN messages and ChannelData frames
// (RFC 8489 §6.2.2, RFC 8656 §12.5). Bytes in, frames out; no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

namespace sigkit::stun {

// RFC 8656 §12: valid channel numbers. 0x5000-0xFFFF are reserved so they
// cannot collide with DTLS/SRTP demultiplexing (RFC 7983).
inline constexpr std::uint16_t min_channel = 0x4000;
inline constexpr std::uint16_t max_channel = 0x4FFF;
constexpr bool is_valid_channel(std::uint16_t c) noexcept { return c >= min_channel && c <= max_channel; }

// RFC 8656 §12.4:
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |         Channel Number        |            Length             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                                                               |
//  /                       Application Data                        /
//  /                                                               /
//  |                                                               |
//  |                               +-------------------------------+
//  |                               |
//  +-------------------------------+
inline constexpr std::size_t channel_data_header_size = 4;

struct channel_data {
  std::uint16_t channel_ = min_channel;
  std::span<const std::byte> data_;  // points into the bytes it was decoded from
};

enum class framing_errc {
  truncated,              // fewer bytes than the header says
  invalid_channel,        // outside 0x4000-0x4FFF
  trailing_bytes,         // more than the padding to 4 after the data
  data_too_long,          // more than 65535 bytes of data to encode
  not_stun_or_channel_data,  // first two bits 10 or 11 (RFC 7983 demux)
  bad_magic_cookie,       // STUN-looking type without 0x2112A442
  bad_stun_length,        // STUN length not a multiple of 4
  looks_like_tls,         // a TLS record (0x16 0x03): a TLS port reached without TLS?
  looks_like_http,        // "HTTP/": a web server on the TURN port?
  buffer_full,            // more buffered than the limit allows
};
std::string_view to_string(framing_errc e) noexcept;

// Encodes one ChannelData message. RFC 8656 §12.4: over TCP/TLS the frame
// is padded to a multiple of 4 (pad_to_4 = true); over UDP padding is optional.
result<std::vector<std::byte>, framing_errc> encode_channel_data(std::uint16_t channel,
                                                               std::span<const std::byte> data,
                                                               bool pad_to_4 = false);
// Decodes one ChannelData datagram or frame. Up to 3 bytes of padding after
// the data are accepted and ignored; more is an error.
result<channel_data, framing_errc> decode_channel_data(std::span<const std::byte> bytes);

enum class frame_kind { stun, channel_data };

struct frame {
  frame_kind kind_ = frame_kind::stun;
  // The whole STUN message, or the ChannelData header + data with the TCP
  // padding removed: ready for parse() / decode_channel_data().
  std::vector<std::byte> bytes_;
};

// Cuts a reliable byte stream into frames. Call feed() with whatever the
// socket delivered, then next() until it returns nothing. The first two
// bits tell the kind (RFC 7983): 00 STUN, 01 ChannelData. Anything else
// is an error that sticks: on a stream there is no way to resynchronise.
// The first frame is also checked for a TLS record or an HTTP response,
// the two usual ways of dialling the wrong port.
class stream_reassembler {
 public:
  // The largest frame is a STUN message of 20 + 65532 bytes.
  static constexpr std::size_t max_frame_size = 20 + 65532;
  // Room for a maximal partial frame plus one 64 KiB socket read.
  static constexpr std::size_t default_buffer_limit = max_frame_size + 65536;

  explicit stream_reassembler(std::size_t buffer_limit = default_buffer_limit);

  // Appends bytes and returns how many are now buffered. Fails (and stays
  // failed) if that would exceed the limit or the stream is already known
  // to be garbage. Drain next() after every feed() to keep the buffer small.
  result<std::size_t, framing_errc> feed(std::span<const std::byte> bytes);
  // The next complete frame, if one is buffered. Detects garbage as early
  // as the bytes allow (after 1, 2, 4 or 8 bytes) and reports it via error().
  std::optional<frame> next();

  std::optional<framing_errc> error() const noexcept { return error_; }
  std::size_t buffered() const noexcept { return buffer_.size() - start_; }

 private:
  std::optional<framing_errc> check_prefix();
  void compact();

  std::vector<std::byte> buffer_;
  std::size_t start_ = 0;  // bytes before this were handed out already
  std::size_t limit_;
  std::optional<framing_errc> error_;
  bool at_stream_start_ = true;  // no frame handed out yet
};

}  // namespace sigkit::stun
