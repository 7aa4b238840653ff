#include "sigkit/websocket/reader.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace sigkit::websocket {

namespace {

using kind = reader::event::kind;

// A fragmented message's buffer starts here and doubles, up to the limit.
constexpr std::size_t first_fragment_capacity = 4096;

reader::event make_event(kind what, opcode type, std::string_view payload = {}, std::uint16_t code = 0) noexcept {
  reader::event e;
  e.what = what;
  e.type = type;
  e.payload = payload;
  e.code = code;
  return e;
}

}  // namespace

reader::reader(role r, std::size_t max_message_bytes) noexcept : max_message_(max_message_bytes), role_(r) {}

reader::event reader::next(std::span<char> input, std::size_t& consumed) {
  if (finished_) {
    consumed = input.size();
    return {};
  }
  // A fragmented message's payload was promised until this call: let the
  // buffer go now, so that an idle connection holds none.
  if (fragmented_type_ == opcode::continuation) fragments_.reset();
  event e = read(input, consumed);
  if (e.what == kind::close || e.what == kind::fail) consumed = input.size();
  return e;
}

reader::event reader::read(std::span<char> input, std::size_t& consumed) {
  std::size_t pos = 0;
  for (;;) {
    consumed = pos;
    const auto* const p = reinterpret_cast<const unsigned char*>(input.data()) + pos;
    const std::size_t available = input.size() - pos;
    event more;  // need_more; frame_bytes once the header is complete
    if (available == 0) return more;

    // Each check runs as soon as the bytes it needs are here, and always in
    // the same order, so a connection that delivers a frame a byte at a
    // time fails exactly as one that delivers it whole.
    const bool fin = (p[0] & 0x80) != 0;
    const auto op = static_cast<opcode>(p[0] & 0x0F);
    // §5.2: RSV1-3 MUST be 0 unless an extension defines them, and none is
    // ever negotiated (permessage-deflate is declined).
    if ((p[0] & 0x70) != 0) return fail(close_code::protocol_error, "reserved bit set");
    switch (op) {
      case opcode::continuation:
        if (fragmented_type_ == opcode::continuation)
          return fail(close_code::protocol_error, "continuation frame without a message");
        break;
      case opcode::text:
      case opcode::binary:
        // §5.4: fragments of one message are not interleaved with another.
        if (fragmented_type_ != opcode::continuation)
          return fail(close_code::protocol_error, "new message inside a fragmented one");
        break;
      case opcode::close:
      case opcode::ping:
      case opcode::pong:
        // §5.5: control frames MUST NOT be fragmented.
        if (!fin) return fail(close_code::protocol_error, "fragmented control frame");
        break;
      default:
        // §5.2: 0x3-0x7 and 0xB-0xF are reserved.
        return fail(close_code::protocol_error, "reserved opcode");
    }
    if (available < 2) return more;

    // §5.1: a client masks every frame it sends, a server none.
    const bool masked = (p[1] & 0x80) != 0;
    if (masked != (role_ == role::server))
      return fail(close_code::protocol_error,
                  role_ == role::server ? "unmasked frame from a client" : "masked frame from a server");
    const bool control = is_control(op);
    std::uint64_t length = p[1] & 0x7F;
    // §5.5: a control frame's payload is at most 125 bytes.
    if (control && length > max_control_payload)
      return fail(close_code::protocol_error, "control frame longer than 125 bytes");
    std::size_t header = 2;
    if (length == 126) {
      if (available < 4) return more;
      length = std::uint64_t{p[2]} << 8 | p[3];
      header = 4;
    } else if (length == 127) {
      if (available < 10) return more;
      length = 0;
      for (int i = 0; i < 8; ++i) length = length << 8 | p[2 + i];
      // §5.2: "the most significant bit MUST be 0".
      if ((length >> 63) != 0) return fail(close_code::protocol_error, "64-bit length with the top bit set");
      header = 10;
    }
    // §10.4: the limit is enforced from the header, before any of the
    // payload has to be received or buffered. (The second test only matters
    // where size_t is narrower than the length field.)
    if (!control && (length > max_message_ - fragment_size_ ||
                     length > std::numeric_limits<std::size_t>::max() - max_header_bytes))
      return fail(close_code::too_big, "message too big");
    if (masked) header += 4;
    if (available < header) return more;

    const auto size = static_cast<std::size_t>(length);
    const std::size_t frame = header + size;
    std::uint32_t mask_key = 0;
    if (masked) {
      for (int i = 0; i < 4; ++i) mask_key = mask_key << 8 | p[header - 4 + i];
    }
    char* const payload = input.data() + pos + header;
    const bool text = op == opcode::text || (op == opcode::continuation && fragmented_type_ == opcode::text);

    if (available < frame) {
      // §8.1: invalid UTF-8 fails the connection as soon as it is seen, so
      // check what has arrived of a text frame (without consuming it).
      if (text && !check_text_prefix(payload, available - header, masked, mask_key))
        return fail(close_code::invalid_payload, "text is not UTF-8");
      more.frame_bytes = frame;
      return more;
    }

    // The whole frame is here: unmask in place (§5.3) and consume it.
    if (masked) apply_mask({payload, size}, mask_key);
    pos += frame;
    // checked_ belongs to this frame and no other; min() keeps a caller that
    // did not present the same bytes again from making it read past them.
    const std::size_t already_checked = std::min(checked_, size);
    checked_ = 0;

    if (control) {
      consumed = pos;
      if (op == opcode::close) return close_event(payload, size);
      return make_event(op == opcode::ping ? kind::ping : kind::pong, op, {payload, size});
    }

    if (text) {
      if (!utf8_.feed({payload + already_checked, size - already_checked}))
        return fail(close_code::invalid_payload, "text is not UTF-8");
      if (fin && !utf8_.complete()) return fail(close_code::invalid_payload, "text ends inside a character");
    }
    if (fin && op != opcode::continuation) {
      // §5.4: an unfragmented message, returned where it lies.
      consumed = pos;
      return make_event(kind::message, op, {payload, size});
    }
    append_fragment(payload, size);
    if (op != opcode::continuation) fragmented_type_ = op;
    if (fin) {
      consumed = pos;
      const event e = make_event(kind::message, fragmented_type_, {fragments_.get(), fragment_size_});
      fragmented_type_ = opcode::continuation;
      fragment_size_ = 0;
      return e;
    }
    // A fragment of a message in progress: copied, so read on.
  }
}

reader::event reader::close_event(const char* payload, std::size_t size) noexcept {
  // §5.5.1: the body, if any, is a 2-byte code in network order and then a
  // UTF-8 reason; one byte cannot be either.
  if (size == 1) return fail(close_code::protocol_error, "close payload of one byte");
  event e = make_event(kind::close, opcode::close, {}, close_code::no_status);
  if (size >= 2) {
    const auto code = static_cast<std::uint16_t>(static_cast<unsigned char>(payload[0]) << 8 |
                                                 static_cast<unsigned char>(payload[1]));
    // §7.4: codes that may not be sent are a protocol error when received.
    if (!is_valid_close_code(code)) return fail(close_code::protocol_error, "invalid close code");
    const std::string_view reason(payload + 2, size - 2);
    if (!is_valid_utf8(reason)) return fail(close_code::invalid_payload, "close reason is not UTF-8");
    e.code = code;
    e.payload = reason;
  }
  finish();
  return e;
}

bool reader::check_text_prefix(const char* payload, std::size_t available, bool masked,
                               std::uint32_t mask_key) noexcept {
  if (available <= checked_) return true;
  if (!masked) {
    const bool valid = utf8_.feed({payload + checked_, available - checked_});
    checked_ = available;
    return valid;
  }
  // Unmask a copy: the caller keeps these bytes as they are and presents
  // them again, still masked, with the rest of the frame.
  char chunk[256];
  while (checked_ < available) {
    const std::size_t n = std::min(sizeof chunk, available - checked_);
    std::memcpy(chunk, payload + checked_, n);
    apply_mask({chunk, n}, mask_key, checked_);
    if (!utf8_.feed({chunk, n})) return false;
    checked_ += n;
  }
  return true;
}

std::size_t reader::fragment_capacity(std::size_t size) const noexcept {
  // Doubling from first_fragment_capacity, never past the limit. Being a
  // function of the size, the capacity needs no member of its own.
  if (size == 0) return 0;
  if (size > max_message_ / 2) return max_message_;
  return std::min(max_message_, std::max(first_fragment_capacity, std::bit_ceil(size)));
}

void reader::append_fragment(const char* payload, std::size_t size) {
  if (size == 0) return;
  const std::size_t capacity = fragment_capacity(fragment_size_ + size);
  if (capacity != fragment_capacity(fragment_size_)) {
    std::unique_ptr<char[]> grown(new char[capacity]);
    if (fragment_size_ != 0) std::memcpy(grown.get(), fragments_.get(), fragment_size_);
    fragments_ = std::move(grown);
  }
  std::memcpy(fragments_.get() + fragment_size_, payload, size);
  fragment_size_ += size;
}

void reader::finish() noexcept {
  finished_ = true;
  fragments_.reset();
  fragment_size_ = 0;
  checked_ = 0;
  fragmented_type_ = opcode::continuation;
  utf8_.reset();
}

reader::event reader::fail(std::uint16_t code, std::string_view why) noexcept {
  finish();
  event e = make_event(kind::fail, opcode::text, {}, code);
  e.why = why;
  return e;
}

}  // namespace sigkit::websocket
