// libFuzzer entry point for the WebSocket framing codec (RFC 6455 §5). The
// reader is differential: the same bytes read as one buffer and again as a
// connection would receive them (in pieces, each appended to what the reader
// left unconsumed) must give the same events, as a server and as a client.
// Hostile bytes must never crash it, read out of bounds, hand out a payload
// over the limit, or touch the bytes it leaves unconsumed.
//
// Input: byte 0 picks the message size limit, byte 1 the largest piece and
// bytes 2-3 seed the piece sizes; the rest is the byte stream.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/core/include \
//     tests/fuzz/websocket_reader_fuzz.cpp lib/core/src/websocket/*.cpp -lcrypto -o websocket_reader_fuzz
//   mkdir -p corpus
//   printf '\x06\x00\x00\x00\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58' > corpus/masked_hello
//   printf '\x06\x00\x00\x00\x01\x03Hel\x89\x05Hello\x80\x02lo\x88\x02\x03\xe8' > corpus/fragmented_ping_close
//   printf '\x06\x05\x00\x01\x01\x82\x01\x02\x03\x04\xe3\x80\x80\x82\x01\x02\x03\x04\xad\x23' > corpus/masked_utf8
//   printf '\x03\x10\x00\x00\x82\x7e\x00\x80' > corpus/length16
//   printf '\x07\x10\x00\x00\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00' > corpus/length64
//   printf '\x06\x00\x00\x00\x88\x85\x01\x02\x03\x04\x02\xea\x62\x6f\x78' > corpus/masked_close
//   ./websocket_reader_fuzz -max_total_time=120 corpus/
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/websocket/frame.hpp"
#include "sigkit/websocket/handshake.hpp"
#include "sigkit/websocket/reader.hpp"
#include "sigkit/websocket/utf8.hpp"

using namespace sigkit::websocket;
using kind = reader::event::kind;

namespace {

// abort() rather than assert(): the check must survive -DNDEBUG builds.
void require(bool ok) {
  if (!ok) std::abort();
}

struct seen {
  kind what;
  opcode type;
  std::string payload;
  std::uint16_t code;
  std::string why;
  bool operator==(const seen&) const = default;
};

struct outcome {
  std::vector<seen> events;
  std::size_t left = 0;         // bytes still unconsumed at the end
  std::size_t frame_bytes = 0;  // of the last need_more
  std::size_t buffered = 0;
  bool finished = false;
  bool operator==(const outcome&) const = default;
};

// Piece sizes from a small generator seeded by the input, so that the
// fuzzer steers the splits.
struct pieces {
  std::uint32_t state;
  std::size_t largest;
  std::size_t next() {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return 1 + state % largest;
  }
};

// One direction of a connection: every call's invariants, and what a user
// of the reader would see.
struct connection {
  reader r;
  std::size_t limit;
  std::string_view stream;
  std::string pending;
  std::size_t offset = 0;  // where pending begins in the stream
  outcome out;

  connection(role who, std::size_t max, std::string_view s) : r(who, max), limit(max), stream(s) {}

  void receive(std::string_view more) {
    pending.append(more);
    for (;;) {
      const bool was_finished = r.finished();
      std::size_t consumed = std::numeric_limits<std::size_t>::max();
      const auto e = r.next(pending, consumed);
      require(consumed <= pending.size());
      if (was_finished) require(e.what == kind::need_more && consumed == pending.size());
      check(e, consumed);
      if (e.what != kind::need_more)
        out.events.push_back({e.what, e.type, std::string(e.payload), e.code, std::string(e.why)});
      pending.erase(0, consumed);
      offset += consumed;
      if (e.what == kind::need_more) {
        out.frame_bytes = e.frame_bytes;
        // What the reader left unconsumed is exactly what it was given.
        require(std::memcmp(pending.data(), stream.data() + offset, pending.size()) == 0);
        break;
      }
    }
    out.left = pending.size();
    out.buffered = r.buffered_bytes();
    out.finished = r.finished();
  }

  void check(const reader::event& e, std::size_t consumed) const {
    require(r.buffered_bytes() <= limit);
    switch (e.what) {
      case kind::need_more:
        require(e.payload.empty() && e.code == 0);
        // A frame whose header is complete but whose payload is not.
        if (e.frame_bytes != 0) require(e.frame_bytes >= 2 && e.frame_bytes > pending.size() - consumed);
        break;
      case kind::message:
        require(e.type == opcode::text || e.type == opcode::binary);
        require(e.payload.size() <= limit);
        if (e.type == opcode::text) require(is_valid_utf8(e.payload));
        require(!r.finished());
        break;
      case kind::ping:
      case kind::pong:
        require(e.payload.size() <= max_control_payload);
        require(!r.finished());
        break;
      case kind::close:
        require(e.payload.size() <= max_control_payload - 2);
        require(is_valid_utf8(e.payload));
        require(is_valid_close_code(e.code) || (e.code == close_code::no_status && e.payload.empty()));
        require(r.finished() && consumed == pending.size() && r.buffered_bytes() == 0);
        break;
      case kind::fail:
        require(e.code == close_code::protocol_error || e.code == close_code::invalid_payload ||
                e.code == close_code::too_big);
        require(!e.why.empty());
        require(r.finished() && consumed == pending.size() && r.buffered_bytes() == 0);
        break;
    }
    // Every byte of a payload can be read (ASan checks the bounds).
    volatile char sink = 0;
    for (char c : e.payload) sink = static_cast<char>(sink ^ c);
  }
};

outcome read_whole(role who, std::size_t limit, std::string_view stream) {
  connection c(who, limit, stream);
  c.receive(stream);
  return c.out;
}

outcome read_in_pieces(role who, std::size_t limit, std::string_view stream, pieces p) {
  connection c(who, limit, stream);
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min(p.next(), stream.size() - at);
    c.receive(stream.substr(at, n));
    at += n;
  }
  if (stream.empty()) c.receive({});
  return c.out;
}

// What the writer writes, the reader reads back unchanged.
void check_round_trip(std::string_view payload, std::uint32_t key) {
  {
    std::string frame = server_frame(opcode::binary, payload);
    require(frame.size() == header_size(payload.size(), false) + payload.size());
    reader r(role::client, payload.size());
    std::size_t consumed = 0;
    const auto e = r.next(frame, consumed);
    require(e.what == kind::message && e.type == opcode::binary && e.payload == payload);
    require(consumed == frame.size());
  }
  {
    char header[max_header_bytes];
    const std::size_t n = write_header(header, opcode::text, true, payload.size(), key);
    std::string frame(header, n);
    frame.append(payload);
    // Mask in two pieces, as a writer that streams the payload would.
    const std::size_t cut = payload.size() / 3;
    apply_mask(std::span<char>(frame.data() + n, cut), key, 0);
    apply_mask(std::span<char>(frame.data() + n + cut, payload.size() - cut), key, cut);
    reader r(role::server, payload.size());
    std::size_t consumed = 0;
    const auto e = r.next(frame, consumed);
    if (is_valid_utf8(payload)) {
      require(e.what == kind::message && e.type == opcode::text && e.payload == payload);
    } else {
      require(e.what == kind::fail && e.code == close_code::invalid_payload);
    }
    require(consumed == frame.size());
  }
  {
    const std::string close = close_payload(close_code::normal, payload);
    require(close.size() <= max_control_payload);
    require(std::string_view(close).substr(2) == payload.substr(0, close.size() - 2));
    if (is_valid_utf8(payload)) require(is_valid_utf8(std::string_view(close).substr(2)));
  }
}

// Incremental validation in pieces agrees with the whole-buffer check.
void check_utf8(std::string_view text, pieces p) {
  utf8_validator v;
  bool ok = true;
  for (std::size_t at = 0; at < text.size() && ok;) {
    const std::size_t n = std::min(p.next(), text.size() - at);
    ok = v.feed(text.substr(at, n));
    at += n;
  }
  require((ok && v.complete()) == is_valid_utf8(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  static constexpr std::size_t limits[] = {0, 1, 5, 125, 126, 300, 4096, std::numeric_limits<std::size_t>::max()};
  const std::size_t limit = limits[data[0] % 8];
  const pieces split{(std::uint32_t{data[2]} << 8 | data[3]) | 0x10000u, std::size_t{1} + data[1]};
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  for (role who : {role::server, role::client}) {
    const outcome whole = read_whole(who, limit, stream);
    require(read_in_pieces(who, limit, stream, split) == whole);
    if (stream.size() <= 512) require(read_in_pieces(who, limit, stream, pieces{1, 1}) == whole);
  }

  check_round_trip(stream, std::uint32_t{data[1]} << 24 | std::uint32_t{data[2]} << 16 | data[3]);
  check_utf8(stream, split);
  if (const auto accept = accept_key(stream)) require(accept->size() == 28);
  (void)has_token(stream, "upgrade");
  return 0;
}
