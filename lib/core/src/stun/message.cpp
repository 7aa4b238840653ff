// Message header, parse and serialize (RFC 8489 §5, §6, §14).
#include "sigkit/stun/message.hpp"

#include <stdexcept>
#include <string>

#include "wire.hpp"

namespace sigkit::stun {

std::uint16_t encode_message_type(method m, message_class c) noexcept {
  // RFC 8489 §5: M0-M3 in bits 0-3, C0 in bit 4, M4-M6 in bits 5-7,
  // C1 in bit 8, M7-M11 in bits 9-13.
  const unsigned mv = static_cast<unsigned>(m) & 0x0FFF;
  const unsigned cv = static_cast<unsigned>(c) & 0x3;
  return static_cast<std::uint16_t>((mv & 0x000F) | ((mv & 0x0070) << 1) | ((mv & 0x0F80) << 2) |
                                    ((cv & 0x1) << 4) | ((cv & 0x2) << 7));
}

method method_of(std::uint16_t type) noexcept {
  return static_cast<method>((type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2));
}

message_class class_of(std::uint16_t type) noexcept {
  return static_cast<message_class>(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}

message::message(method m, message_class c, const transaction_id& tid)
    : method_(m), class_(c), transaction_id_(tid) {}

std::string_view to_string(parse_errc e) noexcept {
  switch (e) {
    case parse_errc::truncated_header: return "truncated header";
    case parse_errc::too_large: return "larger than any STUN message";
    case parse_errc::not_stun: return "not a STUN message (first two bits are not 00)";
    case parse_errc::bad_magic_cookie: return "bad magic cookie";
    case parse_errc::length_not_multiple_of_4: return "message length is not a multiple of 4";
    case parse_errc::truncated_message: return "message shorter than its length field";
    case parse_errc::trailing_bytes: return "bytes after the end of the message";
    case parse_errc::truncated_attribute: return "truncated attribute";
  }
  return "?";
}

std::string to_string(const parse_error& e) {
  return std::string(to_string(e.code_)) + " at byte " + std::to_string(e.offset_);
}

namespace wire {

std::optional<parse_error> check_header(std::span<const std::byte> bytes) noexcept {
  if (bytes.size() < header_size) return parse_error{parse_errc::truncated_header, bytes.size()};
  // Checked before anything else so a huge hostile buffer costs nothing.
  if (bytes.size() > max_message_size) return parse_error{parse_errc::too_large, max_message_size};
  if ((std::to_integer<unsigned>(bytes[0]) & 0xC0) != 0) return parse_error{parse_errc::not_stun, 0};
  if (read_u32(bytes, 4) != magic_cookie) return parse_error{parse_errc::bad_magic_cookie, 4};
  const std::size_t length = read_u16(bytes, 2);
  if (length % 4 != 0) return parse_error{parse_errc::length_not_multiple_of_4, 2};
  if (bytes.size() < header_size + length) return parse_error{parse_errc::truncated_message, bytes.size()};
  if (bytes.size() > header_size + length) return parse_error{parse_errc::trailing_bytes, header_size + length};
  return std::nullopt;
}

}  // namespace wire

bool looks_like_stun(std::span<const std::byte> bytes) noexcept { return !wire::check_header(bytes).has_value(); }

result<message, parse_error> parse(std::span<const std::byte> bytes) {
  if (auto e = wire::check_header(bytes)) return *e;

  const std::uint16_t type = wire::read_u16(bytes, 0);
  message m;
  m.method_ = method_of(type);
  m.class_ = class_of(type);
  for (std::size_t i = 0; i < m.transaction_id_.size(); ++i) m.transaction_id_[i] = bytes[8 + i];

  bool after_integrity = false;
  bool after_fingerprint = false;
  const auto error = wire::for_each_attribute(
      bytes, [&](std::uint16_t raw_type, std::size_t, std::span<const std::byte> value) {
        const auto t = static_cast<attribute_type>(raw_type);
        // RFC 8489 §14.7: FINGERPRINT is last; anything after it is noise.
        if (after_fingerprint) return true;
        // RFC 8489 §14.5: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256
        // and FINGERPRINT count; the rest is unauthenticated and ignored.
        if (after_integrity && t != attribute_type::message_integrity_sha256 && t != attribute_type::fingerprint)
          return true;
        if (t == attribute_type::message_integrity) after_integrity = true;
        if (t == attribute_type::fingerprint) after_fingerprint = true;
        m.attributes_.push_back(attribute{t, std::vector<std::byte>(value.begin(), value.end())});
        return true;
      });
  if (error) return *error;
  return m;
}

namespace {

void put_attribute(std::vector<std::byte>& out, std::uint16_t type, std::span<const std::byte> value) {
  wire::put_u16(out, type);
  wire::put_u16(out, static_cast<std::uint16_t>(value.size()));
  out.insert(out.end(), value.begin(), value.end());
  // RFC 8489 §14: padding bytes are zero on output (receivers ignore them).
  out.resize(header_size + wire::padded(out.size() - header_size), std::byte{0});
}

void set_length(std::vector<std::byte>& out, std::size_t body) {
  wire::write_u16(out, 2, static_cast<std::uint16_t>(body));
}

}  // namespace

std::vector<std::byte> serialize(const message& m, const serialize_options& options) {
  // Room that MESSAGE-INTEGRITY (4 + 20) and FINGERPRINT (4 + 4) will need.
  const std::size_t trailer = (options.integrity_key_ ? 24 : 0) + (options.fingerprint_ ? 8 : 0);

  std::vector<std::byte> out;
  out.reserve(header_size + 64);
  wire::put_u16(out, m.type());
  wire::put_u16(out, 0);
  wire::put_u32(out, magic_cookie);
  out.insert(out.end(), m.transaction_id_.begin(), m.transaction_id_.end());

  for (const auto& a : m.attributes_) {
    if (a.type_ == attribute_type::message_integrity || a.type_ == attribute_type::message_integrity_sha256 ||
        a.type_ == attribute_type::fingerprint)
      continue;
    if (a.value_.size() > 0xFFFF) throw std::length_error("STUN attribute value longer than 65535 bytes");
    if ((out.size() - header_size) + 4 + wire::padded(a.value_.size()) + trailer > max_body_size)
      throw std::length_error("STUN message longer than 65535 bytes");
    put_attribute(out, static_cast<std::uint16_t>(a.type_), a.value_);
  }

  if (options.integrity_key_) {
    // RFC 8489 §14.5: the length covers MESSAGE-INTEGRITY but not what
    // follows it, and the HMAC covers everything before the attribute.
    set_length(out, out.size() - header_size + 24);
    const auto mac = wire::hmac_sha1(*options.integrity_key_, out);
    put_attribute(out, static_cast<std::uint16_t>(attribute_type::message_integrity), mac);
  }
  if (options.fingerprint_) {
    // RFC 8489 §14.7: the length already counts FINGERPRINT.
    set_length(out, out.size() - header_size + 8);
    std::vector<std::byte> value;
    wire::put_u32(value, crc32(out) ^ wire::fingerprint_xor);
    put_attribute(out, static_cast<std::uint16_t>(attribute_type::fingerprint), value);
  }
  set_length(out, out.size() - header_size);
  return out;
}

}  // namespace sigkit::stun
