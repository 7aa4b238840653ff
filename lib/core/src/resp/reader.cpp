#include "sigkit/resp/reader.hpp"

#include <algorithm>
#include <limits>
#include <string>

namespace sigkit::resp {

namespace {

// "0", "[1-9][0-9]*" or, negated, "-[1-9][0-9]*", within 64 bits: the only
// spellings Redis writes (its string2ll() reads no others).
bool parse_decimal(std::string_view s, std::int64_t& out) noexcept {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s.size() > 19) return false;  // 19 digits always fit in 64 unsigned bits
  if (s.front() == '0' && (s.size() > 1 || negative)) return false;
  std::uint64_t n = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (n > max + (negative ? 1 : 0)) return false;
  if (!negative) out = static_cast<std::int64_t>(n);
  else out = n == max + 1 ? std::numeric_limits<std::int64_t>::min() : -static_cast<std::int64_t>(n);
  return true;
}

// Elements reserved up front for an array: its own length unless that is
// large, since a length alone must not make the reader allocate.
constexpr std::size_t max_reserved_elements = 64;

}  // namespace

reader::event reader::next(std::span<const char> input, std::size_t& consumed) {
  if (finished_) {
    consumed = input.size();
    return {};
  }
  event e = read(input, consumed);
  if (e.what == event::kind::fail) consumed = input.size();
  return e;
}

reader::event reader::read(std::span<const char> input, std::size_t& consumed) {
  const char* const data = input.data();
  const std::size_t size = input.size();
  std::size_t pos = 0;
  for (;;) {
    consumed = pos;
    if (pos == size) return {};

    // Every element begins with a type byte and a line that ends in CRLF.
    // Checks run in the same order however the bytes are split, so input
    // that arrives a byte at a time fails exactly as input that arrives whole.
    const char type = data[pos];
    if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') return fail("bad type byte");
    const std::size_t line_start = pos + 1;
    std::size_t end = line_start + std::min(scanned_, size - line_start);
    while (end < size && data[end] != '\r' && data[end] != '\n') ++end;
    const std::size_t line_size = end - line_start;
    if (line_size > limits_.max_line_bytes) return fail("line too long");
    if (end < size && data[end] == '\n') return fail("line feed without carriage return");
    if (end + 1 >= size) {
      scanned_ = line_size;
      return {};
    }
    if (data[end + 1] != '\n') return fail("carriage return without line feed");
    const std::string_view line(data + line_start, line_size);
    const std::size_t after_line = end + 2;

    value v;
    std::int64_t n = 0;
    switch (type) {
      case '+':
        v = value::simple(std::string(line));
        pos = after_line;
        break;
      case '-':
        v = value::error(std::string(line));
        pos = after_line;
        break;
      case ':':
        if (!parse_decimal(line, n)) return fail("bad integer");
        v = value::number(n);
        pos = after_line;
        break;
      case '$': {
        if (!parse_decimal(line, n)) return fail("bad length");
        if (n == -1) {
          v = value::null();
          pos = after_line;
          break;
        }
        if (n < 0) return fail("negative length");
        if (static_cast<std::uint64_t>(n) > limits_.max_bulk_bytes) return fail("bulk string too long");
        const auto length = static_cast<std::size_t>(n);
        if (size - after_line < length + 2) {
          scanned_ = line_size;
          event more;
          more.element_bytes = after_line - pos + length + 2;
          return more;
        }
        if (data[after_line + length] != '\r' || data[after_line + length + 1] != '\n')
          return fail("bulk string not followed by CRLF");
        v = value::bulk(std::string(data + after_line, length));
        pos = after_line + length + 2;
        break;
      }
      case '*': {
        if (!parse_decimal(line, n)) return fail("bad length");
        if (n == -1) {
          v = value::null_array();
          pos = after_line;
          break;
        }
        if (n < 0) return fail("negative length");
        if (static_cast<std::uint64_t>(n) > limits_.max_array_elements) return fail("array too long");
        if (open_.size() >= limits_.max_depth) return fail("arrays nested too deep");
        pos = after_line;
        if (n == 0) {
          v = value::array({});
          break;
        }
        // The header is consumed; the array lives here until its last element.
        open_.push_back({value::array({}), static_cast<std::size_t>(n)});
        open_.back().items.elements.reserve(std::min(open_.back().remaining, max_reserved_elements));
        scanned_ = 0;
        continue;
      }
    }
    scanned_ = 0;

    // `v` is complete: it is an element of the innermost open array, and may
    // complete it, and so on outwards.
    bool top_level = true;
    while (!open_.empty()) {
      open_array& innermost = open_.back();
      innermost.items.elements.push_back(std::move(v));
      if (--innermost.remaining != 0) {
        top_level = false;
        break;
      }
      v = std::move(innermost.items);
      open_.pop_back();
    }
    if (top_level) {
      consumed = pos;
      event e;
      e.what = event::kind::value;
      e.value = std::move(v);
      return e;
    }
  }
}

reader::event reader::fail(std::string_view why) noexcept {
  reset();
  finished_ = true;
  event e;
  e.what = event::kind::fail;
  e.why = why;
  return e;
}

void reader::reset() noexcept {
  open_.clear();
  scanned_ = 0;
  finished_ = false;
}

}  // namespace sigkit::resp
