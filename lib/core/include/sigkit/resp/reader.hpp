// RESP2, the reading half: turns the bytes a Redis server sends into values.
// Sans-I/O, in the manner of websocket::reader: the caller owns the bytes and
// the socket; the reader holds only the arrays it has begun (their elements
// so far) between calls.
//
// The grammar is read strictly, as Redis writes it: lengths and integers are
// decimal without a sign (but "-1", the null) or leading zeros, every line
// ends in CRLF, and a bulk string's bytes are followed by CRLF. Anything else,
// or a value over a limit, is a protocol error: the connection cannot be
// trusted to stay in step, so the reader is finished.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "sigkit/resp/value.hpp"

namespace sigkit::resp {

// Each is checked as soon as the bytes that state it have arrived (a bulk
// string's or an array's length line), before the rest is received.
struct limits {
  std::size_t max_bulk_bytes = std::size_t{512} << 20;  // one bulk string (Redis' own proto-max-bulk-len)
  std::size_t max_array_elements = std::size_t{1} << 20;
  std::size_t max_depth = 32;                           // arrays inside arrays, the outermost counted
  std::size_t max_line_bytes = std::size_t{64} << 10;   // a simple string, error or length line, CRLF excluded
};

class reader {
 public:
  explicit reader(limits l = {}) noexcept : limits_(l) {}

  struct event {
    enum class kind : std::uint8_t {
      need_more,  // no complete value left in the input
      value,      // one complete top-level value
      fail,       // malformed input or a limit exceeded: drop the connection
    };
    kind what = kind::need_more;
    resp::value value;  // value
    // need_more: the size, header and CRLF included, of a bulk string that
    // has begun, once its length line is complete (0 otherwise), so the
    // caller can size its buffer.
    std::size_t element_bytes = 0;
    std::string_view why;  // fail: a short explanation for logs
  };

  // Reads the next value from `input`, which starts where the previous call
  // stopped consuming. Elements are consumed whole: a partial one at the end
  // is left unconsumed for the caller to keep and present again, with more
  // bytes after it. The elements of an unfinished array are consumed (moved
  // into the reader) and reading goes on, so `need_more` may come with
  // consumed > 0. After `fail` the reader is finished: it consumes and
  // ignores whatever follows. `consumed` is set (not added to).
  event next(std::span<const char> input, std::size_t& consumed);

  bool finished() const noexcept { return finished_; }
  // Arrays begun and not yet complete.
  std::size_t depth() const noexcept { return open_.size(); }
  // Back to the state of a new reader (for a new connection).
  void reset() noexcept;

 private:
  struct open_array {
    value items;
    std::size_t remaining;
  };
  event read(std::span<const char> input, std::size_t& consumed);
  event fail(std::string_view why) noexcept;

  limits limits_;
  std::vector<open_array> open_;
  // Bytes of the partial line at the front of the input already searched for
  // its CR, so that a line arriving a byte at a time is not searched again
  // from its start each time.
  std::size_t scanned_ = 0;
  bool finished_ = false;
};

}  // namespace sigkit::resp
