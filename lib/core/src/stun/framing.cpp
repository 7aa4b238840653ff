// ChannelData (RFC 8656 §12.4) and stream reassembly (RFC 8489 §6.2.2,
// RFC 8656 §12.5, RFC 7983 demultiplexing).
#include "sigkit/stun/framing.hpp"

#include <algorithm>

#include "sigkit/stun/message.hpp"
#include "wire.hpp"

namespace sigkit::stun {

std::string_view to_string(framing_errc e) noexcept {
  switch (e) {
    case framing_errc::truncated: return "truncated ChannelData";
    case framing_errc::invalid_channel: return "channel number outside 0x4000-0x4FFF";
    case framing_errc::trailing_bytes: return "bytes after the ChannelData padding";
    case framing_errc::data_too_long: return "ChannelData longer than 65535 bytes";
    case framing_errc::not_stun_or_channel_data: return "neither STUN nor ChannelData (first two bits are 1x)";
    case framing_errc::bad_magic_cookie: return "STUN header without the magic cookie";
    case framing_errc::bad_stun_length: return "STUN length is not a multiple of 4";
    case framing_errc::looks_like_tls: return "the peer speaks TLS (a turns:/stuns: port?)";
    case framing_errc::looks_like_http: return "the peer speaks HTTP (a web server on this port?)";
    case framing_errc::buffer_full: return "more buffered than the limit";
  }
  return "?";
}

result<std::vector<std::byte>, framing_errc> encode_channel_data(std::uint16_t channel,
                                                               std::span<const std::byte> data, bool pad_to_4) {
  if (!is_valid_channel(channel)) return framing_errc::invalid_channel;
  if (data.size() > 0xFFFF) return framing_errc::data_too_long;
  std::vector<std::byte> out;
  out.reserve(channel_data_header_size + wire::padded(data.size()));
  wire::put_u16(out, channel);
  wire::put_u16(out, static_cast<std::uint16_t>(data.size()));
  out.insert(out.end(), data.begin(), data.end());
  // RFC 8656 §12.5: over TCP/TLS, pad to 4 so the next frame is aligned.
  // The Length field never counts the padding.
  if (pad_to_4) out.resize(channel_data_header_size + wire::padded(data.size()), std::byte{0});
  return out;
}

result<channel_data, framing_errc> decode_channel_data(std::span<const std::byte> bytes) {
  if (bytes.size() < channel_data_header_size) return framing_errc::truncated;
  const std::uint16_t channel = wire::read_u16(bytes, 0);
  if (!is_valid_channel(channel)) return framing_errc::invalid_channel;
  const std::size_t length = wire::read_u16(bytes, 2);
  if (bytes.size() - channel_data_header_size < length) return framing_errc::truncated;
  if (bytes.size() - channel_data_header_size > wire::padded(length)) return framing_errc::trailing_bytes;
  return channel_data{channel, bytes.subspan(channel_data_header_size, length)};
}

stream_reassembler::stream_reassembler(std::size_t buffer_limit) : limit_(buffer_limit) {}

result<std::size_t, framing_errc> stream_reassembler::feed(std::span<const std::byte> bytes) {
  if (error_) return *error_;
  compact();
  if (bytes.size() > limit_ - buffered()) {
    error_ = framing_errc::buffer_full;
    return *error_;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  return buffered();
}

void stream_reassembler::compact() {
  if (start_ == 0) return;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(start_));
  start_ = 0;
}

namespace {

// A TLS record header: content type 20-23 (alert, handshake...), then
// major version 3.
bool is_tls_record(std::span<const std::byte> b) {
  const auto t = std::to_integer<unsigned>(b[0]);
  return b.size() >= 2 && t >= 0x14 && t <= 0x17 && std::to_integer<unsigned>(b[1]) == 0x03;
}

// How an HTTP response starts. "HT" is 0x4854, a valid channel number, so
// this cannot be told from ChannelData by the channel alone.
constexpr std::string_view http_prefix = "HTTP/";

bool starts_like_http(std::span<const std::byte> b) {
  if (b.size() < http_prefix.size()) return false;  // "HTTP" alone is still a valid ChannelData header
  for (std::size_t i = 0; i < http_prefix.size(); ++i)
    if (std::to_integer<char>(b[i]) != http_prefix[i]) return false;
  return true;
}

}  // namespace

// Decides from as few bytes as possible whether the stream is garbage.
// Returns nothing while the prefix is still plausible.
std::optional<framing_errc> stream_reassembler::check_prefix() {
  const std::span<const std::byte> b(buffer_.data() + start_, buffered());

  // A server that speaks TLS or HTTP does so from its first byte, so the
  // first frame gets a closer look. Both would otherwise pass as a STUN
  // header of an unassigned method (0x16 0x03) or a long ChannelData on
  // channel 0x4854 ("HT"), and the caller would wait for bytes that never come.
  if (at_stream_start_) {
    if (b.size() >= 2 && is_tls_record(b)) return framing_errc::looks_like_tls;
    if (starts_like_http(b)) return framing_errc::looks_like_http;
  }

  const auto top = std::to_integer<unsigned>(b[0]) >> 6;
  if (top >= 2) return framing_errc::not_stun_or_channel_data;

  if (top == 1) {  // ChannelData
    if (b.size() >= 2 && !is_valid_channel(wire::read_u16(b, 0))) return framing_errc::invalid_channel;
    return std::nullopt;
  }

  // STUN (RFC 8489 §6.2.2: over TCP, messages are self-delimiting).
  if (b.size() >= 4 && wire::read_u16(b, 2) % 4 != 0)
    return is_tls_record(b) ? framing_errc::looks_like_tls : framing_errc::bad_stun_length;
  if (b.size() >= 8 && wire::read_u32(b, 4) != magic_cookie)
    return is_tls_record(b) ? framing_errc::looks_like_tls : framing_errc::bad_magic_cookie;
  return std::nullopt;
}

std::optional<frame> stream_reassembler::next() {
  if (error_ || buffered() == 0) return std::nullopt;
  if (auto e = check_prefix()) {
    error_ = e;
    return std::nullopt;
  }
  const std::span<const std::byte> b(buffer_.data() + start_, buffered());
  if (b.size() < 4) return std::nullopt;

  const bool is_stun = (std::to_integer<unsigned>(b[0]) >> 6) == 0;
  const std::size_t length = wire::read_u16(b, 2);
  // The frame's bytes and how much of the stream it occupies (ChannelData
  // is padded to 4 on streams, RFC 8656 §12.5).
  const std::size_t frame_size = is_stun ? header_size + length : channel_data_header_size + length;
  const std::size_t consumed = is_stun ? frame_size : channel_data_header_size + wire::padded(length);
  if (consumed > limit_) {
    error_ = framing_errc::buffer_full;
    return std::nullopt;
  }
  if (b.size() < consumed) return std::nullopt;

  frame f;
  f.kind_ = is_stun ? frame_kind::stun : frame_kind::channel_data;
  f.bytes_.assign(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(frame_size));
  start_ += consumed;
  at_stream_start_ = false;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return f;
}

}  // namespace sigkit::stun
