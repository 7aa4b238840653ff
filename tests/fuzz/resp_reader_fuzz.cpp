// libFuzzer entry point for the RESP2 codec (what a Redis server sends). The
// reader is differential: the same bytes read as one buffer and again as a
// connection would receive them (in pieces, each appended to what the reader
// left unconsumed) must give the same values. Hostile bytes must never crash
// it, read out of bounds, hand out a value over a limit, or touch the bytes
// it leaves unconsumed; and since the grammar is canonical, every value it
// accepts encodes back to exactly the bytes it was read from.
//
// Input: byte 0 picks the limits, byte 1 the largest piece and bytes 2-3
// seed the piece sizes; the rest is the byte stream.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/core/include \
//     tests/fuzz/resp_reader_fuzz.cpp lib/core/src/resp/*.cpp -o resp_reader_fuzz
//   mkdir -p corpus
//   printf '\x00\x00\x00\x00+OK\r\n:1000\r\n$5\r\nhello\r\n$-1\r\n' > corpus/scalars
//   printf '\x00\x03\x00\x01*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n' > corpus/nested
//   printf '\x01\x00\x00\x00*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\na\r\nb\r\n*-1\r\n*0\r\n' > corpus/message
//   ./resp_reader_fuzz -max_total_time=120 corpus/
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/resp/reader.hpp"
#include "sigkit/resp/value.hpp"
#include "sigkit/resp/writer.hpp"

using namespace sigkit::resp;
using event_kind = reader::event::kind;

namespace {

// abort() rather than assert(): the check must survive -DNDEBUG builds.
void require(bool ok) {
  if (!ok) std::abort();
}

struct outcome {
  std::vector<value> values;
  std::string failure;
  std::size_t left = 0;           // bytes still unconsumed at the end
  std::size_t element_bytes = 0;  // of the last need_more
  std::size_t depth = 0;
  bool finished = false;
  bool operator==(const outcome&) const = default;
};

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

// Every value within the limits, at every level.
void check_value(const value& v, const limits& l, std::size_t depth) {
  switch (v.what) {
    case kind::simple_string:
    case kind::error:
      require(v.text.size() <= l.max_line_bytes);
      require(v.text.find_first_of("\r\n") == std::string::npos);
      break;
    case kind::bulk_string: require(v.text.size() <= l.max_bulk_bytes); break;
    case kind::array:
      require(depth < l.max_depth);
      require(v.elements.size() <= l.max_array_elements);
      for (const auto& e : v.elements) check_value(e, l, depth + 1);
      break;
    case kind::integer:
    case kind::null_bulk:
    case kind::null_array: break;
  }
  if (v.what != kind::array) require(v.elements.empty());
  if (v.what != kind::integer) require(v.integer == 0);
  if (v.what != kind::simple_string && v.what != kind::error && v.what != kind::bulk_string) require(v.text.empty());
}

struct connection {
  reader r;
  limits lim;
  std::string_view stream;
  std::string pending;
  std::size_t offset = 0;       // where pending begins in the stream
  std::size_t value_start = 0;  // where the value being read began
  outcome out;

  connection(limits l, std::string_view s) : r(l), lim(l), stream(s) {}

  void receive(std::string_view more) {
    pending.append(more);
    for (;;) {
      const bool was_finished = r.finished();
      std::size_t consumed = std::numeric_limits<std::size_t>::max();
      auto e = r.next(pending, consumed);
      require(consumed <= pending.size());
      if (was_finished) require(e.what == event_kind::need_more && consumed == pending.size());
      const std::size_t rest = pending.size() - consumed;
      switch (e.what) {
        case event_kind::need_more:
          require(e.why.empty() && e.value == value{});
          if (e.element_bytes != 0) {
            require(e.element_bytes > rest);
            require(pending[consumed] == '$');
          }
          require(r.depth() <= lim.max_depth);
          break;
        case event_kind::value: {
          check_value(e.value, lim, 0);
          // Canonical: the value is exactly the bytes it was read from.
          const std::size_t end = offset + consumed;
          require(encode(e.value) == stream.substr(value_start, end - value_start));
          value_start = end;
          require(r.depth() == 0 && !r.finished());
          break;
        }
        case event_kind::fail:
          require(!e.why.empty());
          require(r.finished() && rest == 0 && r.depth() == 0);
          out.failure = std::string(e.why);
          break;
      }
      // Every byte of a value can be read (ASan checks the bounds).
      volatile char sink = 0;
      for (char c : e.value.text) sink = static_cast<char>(sink ^ c);
      pending.erase(0, consumed);
      offset += consumed;
      if (e.what == event_kind::value) {
        out.values.push_back(std::move(e.value));
        continue;
      }
      // What the reader left unconsumed is exactly what it was given.
      require(std::memcmp(pending.data(), stream.data() + offset, pending.size()) == 0);
      out.element_bytes = e.element_bytes;
      break;
    }
    out.left = pending.size();
    out.depth = r.depth();
    out.finished = r.finished();
  }
};

outcome read_whole(limits l, std::string_view stream) {
  connection c(l, stream);
  c.receive(stream);
  return c.out;
}

outcome read_in_pieces(limits l, std::string_view stream, pieces p) {
  connection c(l, stream);
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min(p.next(), stream.size() - at);
    c.receive(stream.substr(at, n));
    at += n;
  }
  if (stream.empty()) c.receive({});
  return c.out;
}

// A command built from the input (split at every '\x01') reads back as the
// array of bulk strings it was written from.
void check_command_round_trip(std::string_view stream) {
  std::vector<std::string> args;
  std::size_t from = 0;
  for (std::size_t i = 0; i <= stream.size(); ++i)
    if (i == stream.size() || stream[i] == '\x01') {
      args.emplace_back(stream.substr(from, i - from));
      from = i + 1;
    }
  const std::string bytes = encode_command(args);
  reader r;
  std::size_t consumed = 0;
  auto e = r.next(bytes, consumed);
  require(e.what == event_kind::value && consumed == bytes.size());
  require(e.value.what == kind::array && e.value.elements.size() == args.size());
  for (std::size_t i = 0; i < args.size(); ++i) require(e.value.elements[i] == value::bulk(args[i]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  static constexpr limits choices[] = {
      {},
      {16, 4, 3, 16},
      {0, 0, 0, 0},
      {1, 1, 1, 1},
      {5, 2, 8, 3},
      {300, 100, 2, 64},
      {std::numeric_limits<std::size_t>::max(), std::numeric_limits<std::size_t>::max(), 64,
       std::numeric_limits<std::size_t>::max()},
      {64, 16, 32, 8},
  };
  const limits l = choices[data[0] % 8];
  const pieces split{(std::uint32_t{data[2]} << 8 | data[3]) | 0x10000u, std::size_t{1} + data[1]};
  const std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);

  const outcome whole = read_whole(l, stream);
  require(read_in_pieces(l, stream, split) == whole);
  if (stream.size() <= 512) require(read_in_pieces(l, stream, pieces{1, 1}) == whole);

  // What the reader accepted, written again, reads the same.
  std::string again;
  for (const auto& v : whole.values) append(again, v);
  const outcome reread = read_whole(l, again);
  require(reread.values == whole.values && reread.failure.empty() && reread.left == 0);

  check_command_round_trip(stream);
  (void)to_string(whole.values.empty() ? value{} : whole.values.front(), 16);
  return 0;
}
