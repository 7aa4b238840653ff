#include "sigkit/proto/envelope.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <system_error>

namespace sigkit::proto {
namespace {

using reason = envelope_error::reason;

// RFC 8259 §2: ws = *( %x20 / %x09 / %x0A / %x0D )
constexpr bool is_whitespace(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// A string ends at '"', escapes at '\', and may not hold a raw byte below
// 0x20 (RFC 8259 §7); every other byte is taken as it is.
constexpr bool is_special(char c) noexcept {
  return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
}

constexpr std::uint64_t ones = 0x0101010101010101;
constexpr std::uint64_t highs = 0x8080808080808080;

// The high bit of every byte of `w` below `n` (n <= 0x80). Borrows may also
// flag bytes above the first true one, never below it, so only the lowest
// flag is exact, which is the one the caller uses.
constexpr std::uint64_t bytes_below(std::uint64_t w, std::uint8_t n) noexcept {
  return (w - ones * n) & ~w & highs;
}

// The high bit of every byte of `w` that is special, exact for the first.
constexpr std::uint64_t special_bytes(std::uint64_t w) noexcept {
  return bytes_below(w ^ (ones * '"'), 1) | bytes_below(w ^ (ones * '\\'), 1) | bytes_below(w, 0x20);
}

// The first special byte in [p, end), or end: a word at a time while eight
// bytes are left. memcpy keeps the unaligned load well defined; compilers
// make it one load.
const char* find_special(const char* p, const char* end) noexcept {
  while (end - p >= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
    if (const std::uint64_t found = special_bytes(w)) return p + std::countr_zero(found) / 8;
    p += 8;
  }
  while (p != end && !is_special(*p)) ++p;
  return p;
}

// RFC 8259 §7: \" \\ \/ \b \f \n \r \t; the other escape is \uXXXX.
constexpr bool is_short_escape(char c) noexcept {
  switch (c) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't': return true;
    default: return false;
  }
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The code unit of the four hex digits at p, or -1.
long hex4(const char* p) noexcept {
  long unit = 0;
  for (int i = 0; i < 4; ++i) {
    const int d = hex_digit(p[i]);
    if (d < 0) return -1;
    unit = unit << 4 | d;
  }
  return unit;
}

constexpr bool is_high_surrogate(long unit) noexcept { return unit >= 0xD800 && unit <= 0xDBFF; }
constexpr bool is_low_surrogate(long unit) noexcept { return unit >= 0xDC00 && unit <= 0xDFFF; }

char* put_utf8(char* out, std::uint32_t cp) noexcept {
  if (cp < 0x80) {
    *out++ = static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out++ = static_cast<char>(0xC0 | cp >> 6);
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out++ = static_cast<char>(0xE0 | cp >> 12);
    *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out++ = static_cast<char>(0xF0 | cp >> 18);
    *out++ = static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    *out++ = static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Resolves the escapes of a string's contents that the scanner has already
// validated, writing at most raw.size() bytes (no escape is shorter than
// what it stands for). Returns the length written.
std::size_t unescape(std::string_view raw, char* out) noexcept {
  char* o = out;
  const char* p = raw.data();
  const char* const end = p + raw.size();
  while (p != end) {
    const auto* backslash = static_cast<const char*>(std::memchr(p, '\\', static_cast<std::size_t>(end - p)));
    const char* plain_end = backslash ? backslash : end;
    std::memcpy(o, p, static_cast<std::size_t>(plain_end - p));
    o += plain_end - p;
    p = plain_end;
    if (p == end) break;
    switch (p[1]) {
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u': {
        auto cp = static_cast<std::uint32_t>(hex4(p + 2));
        if (is_high_surrogate(cp)) {  // RFC 8259 §7: a pair, as UTF-16 spells it
          p += 6;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(hex4(p + 2)) - 0xDC00);
        }
        o = put_utf8(o, cp);
        p += 4;
        break;
      }
      default: *o++ = p[1]; break;  // " \ /
    }
    p += 2;
  }
  return static_cast<std::size_t>(o - out);
}

// RFC 8259 §6 lets a parser limit the range of numbers; ours, like
// nlohmann::json's, is that of a double. [begin, end) is a number that
// follows the grammar; `integer` its digits before any fraction, `fraction`
// those after the point and `exponent` the text after the 'e' (both empty
// when absent).
bool fits_double(const char* begin, const char* end, std::string_view integer, std::string_view fraction,
                 std::string_view exponent) noexcept {
  // The decimal exponent of the first significant digit: the value lies in
  // [10^m, 10^(m+1)), and DBL_MAX (1.8e308) in [1e308, 1e309).
  long long m;
  if (integer != "0") {
    m = static_cast<long long>(integer.size()) - 1;
  } else {
    const auto first = fraction.find_first_not_of('0');
    if (first == std::string_view::npos) return true;  // zero
    m = -static_cast<long long>(first) - 1;
  }
  if (!exponent.empty()) {
    const bool negative = exponent.front() == '-';
    if (exponent.front() == '-' || exponent.front() == '+') exponent.remove_prefix(1);
    // Saturated well beyond any digit count a frame can hold.
    long long e = 0;
    for (char c : exponent) e = std::min(e * 10 + (c - '0'), 1'000'000'000'000LL);
    m += negative ? -e : e;
  }
  if (m != 308) return m < 308;
  // The one decade where rounding decides (1.7976931348623158e308 still
  // rounds to DBL_MAX): the standard library rounds correctly.
  double value;
  return std::from_chars(begin, end, value).ec != std::errc::result_out_of_range;
}

// An integer a JSON library holds exactly: int64 when negative, else uint64.
// `digits` has no sign and no leading zero, so comparing equal lengths as
// text compares the values.
bool fits_integer(std::string_view digits, bool negative) noexcept {
  const std::string_view limit = negative ? "9223372036854775808" : "18446744073709551615";
  return digits.size() < limit.size() || (digits.size() == limit.size() && digits <= limit);
}

}  // namespace

namespace detail {

// One pass, no recursion: the open arrays and objects are a stack of bits.
class envelope_scanner {
 public:
  explicit envelope_scanner(std::string_view text) noexcept
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()) {}

  result<envelope, envelope_error> scan();

 private:
  envelope_error fail(reason why) const noexcept {
    return envelope_error{why, static_cast<std::size_t>(p_ - begin_)};
  }

  void skip_whitespace() noexcept {
    while (p_ != end_ && is_whitespace(*p_)) ++p_;
  }
  void skip_digits() noexcept {
    while (p_ != end_ && is_digit(*p_)) ++p_;
  }
  bool next_is(char c) const noexcept { return p_ != end_ && *p_ == c; }

  bool open(bool object) noexcept {
    if (depth_ == max_nesting) return false;
    const std::uint64_t bit = std::uint64_t{1} << (depth_ % 64);
    if (object) objects_[depth_ / 64] |= bit;
    else objects_[depth_ / 64] &= ~bit;
    ++depth_;
    return true;
  }
  bool in_object() const noexcept { return (objects_[(depth_ - 1) / 64] >> ((depth_ - 1) % 64) & 1) != 0; }

  bool string(bool& escaped) noexcept;
  bool unicode_escape() noexcept;
  bool key() noexcept;
  void top_level_key(std::string_view raw, bool escaped) noexcept;
  bool number(member_value* slot, reason& why) noexcept;
  bool literal(std::string_view word) noexcept;

  static void set(member_value* slot, member_kind kind, std::string_view text = {}) noexcept {
    slot->kind_ = kind;
    slot->view_ = text;
    slot->decoded_used_ = false;
  }
  static void set_decoded(member_value* slot, std::string_view raw) {
    slot->kind_ = member_kind::string;
    slot->decoded_used_ = true;
    slot->decoded_.resize(raw.size());
    slot->decoded_.resize(unescape(raw, slot->decoded_.data()));
  }

  const char* const begin_;
  const char* p_;
  const char* const end_;
  std::size_t depth_ = 0;
  std::array<std::uint64_t, (max_nesting + 63) / 64> objects_{};  // bit set: that level is an object
  member_value* current_ = nullptr;  // the top-level member whose value comes next, if one we read
  envelope envelope_;
};

// p_ is just past the opening quote; on success, just past the closing one.
bool envelope_scanner::string(bool& escaped) noexcept {
  for (;;) {
    p_ = find_special(p_, end_);
    if (p_ == end_) return false;
    if (*p_ == '"') {
      ++p_;
      return true;
    }
    if (*p_ != '\\') return false;  // a raw control character
    escaped = true;
    // SDPs escape every line end: keep the two-byte escapes on this path.
    if (end_ - p_ >= 2 && is_short_escape(p_[1])) {
      p_ += 2;
      continue;
    }
    if (!unicode_escape()) return false;
  }
}

// p_ is at a backslash not followed by a short escape (RFC 8259 §7).
bool envelope_scanner::unicode_escape() noexcept {
  if (end_ - p_ < 6 || p_[1] != 'u') return false;
  const long unit = hex4(p_ + 2);
  if (unit < 0 || is_low_surrogate(unit)) return false;
  p_ += 6;
  if (!is_high_surrogate(unit)) return true;
  // A character beyond the BMP: the low surrogate must follow at once.
  if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u' || !is_low_surrogate(hex4(p_ + 2))) return false;
  p_ += 6;
  return true;
}

// A member's name and the colon after it, leaving p_ at its value.
bool envelope_scanner::key() noexcept {
  if (!next_is('"')) return false;
  const char* contents = ++p_;
  bool escaped = false;
  if (!string(escaped)) return false;
  if (depth_ == 1) top_level_key(std::string_view(contents, static_cast<std::size_t>(p_ - 1 - contents)), escaped);
  skip_whitespace();
  if (!next_is(':')) return false;
  ++p_;
  skip_whitespace();
  return true;
}

void envelope_scanner::top_level_key(std::string_view raw, bool escaped) noexcept {
  // No name we look for is longer than 5 characters, each at most a 6-byte
  // \u escape: a longer key with escapes cannot be one.
  char buffer[5 * 6];
  std::string_view name = raw;
  if (escaped) {
    if (raw.size() > sizeof buffer) return;
    name = std::string_view(buffer, unescape(raw, buffer));
  }
  if (name == "type") current_ = &envelope_.type;
  else if (name == "room") current_ = &envelope_.room;
  else if (name == "to") current_ = &envelope_.to;
  else if (name == "rid") current_ = &envelope_.rid;
  else if (name == "token") current_ = &envelope_.token;
  else if (name == "from") envelope_.has_from = true;
}

// RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool envelope_scanner::number(member_value* slot, reason& why) noexcept {
  why = reason::syntax;
  const char* const begin = p_;
  const bool negative = *p_ == '-';
  if (negative) ++p_;
  const char* const integer_begin = p_;
  if (!next_is('0')) {
    if (p_ == end_ || !is_digit(*p_)) return false;
    skip_digits();
  } else {
    ++p_;
  }
  const std::string_view integer(integer_begin, static_cast<std::size_t>(p_ - integer_begin));
  std::string_view fraction, exponent;
  if (next_is('.')) {
    const char* const fraction_begin = ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    skip_digits();
    fraction = std::string_view(fraction_begin, static_cast<std::size_t>(p_ - fraction_begin));
  }
  if (next_is('e') || next_is('E')) {
    const char* const exponent_begin = ++p_;
    if (next_is('+') || next_is('-')) ++p_;
    if (p_ == end_ || !is_digit(*p_)) return false;
    skip_digits();
    exponent = std::string_view(exponent_begin, static_cast<std::size_t>(p_ - exponent_begin));
  }
  // Anything but an exact integer is a double to a JSON library.
  const bool exact = fraction.empty() && exponent.empty() && fits_integer(integer, negative);
  if (!exact && !fits_double(begin, p_, integer, fraction, exponent)) {
    why = reason::out_of_range;
    p_ = begin;
    return false;
  }
  if (slot) {
    if (!exact) set(slot, member_kind::other);
    else if (negative && integer == "0") set(slot, member_kind::integer, "0");
    else set(slot, member_kind::integer, std::string_view(begin, static_cast<std::size_t>(p_ - begin)));
  }
  return true;
}

bool envelope_scanner::literal(std::string_view word) noexcept {
  if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
    return false;
  p_ += word.size();
  return true;
}

result<envelope, envelope_error> envelope_scanner::scan() {
  skip_whitespace();
  for (;;) {
    // A value starts at p_. If it is that of a top-level member we read,
    // `slot` is where it goes.
    if (p_ == end_) return fail(reason::syntax);
    member_value* const slot = std::exchange(current_, nullptr);
    bool closed = true;  // the value ended here (it is not an open container)
    switch (*p_) {
      case '{':
      case '[': {
        const bool object = *p_ == '{';
        if (depth_ == 0) envelope_.is_object = object;
        if (slot) set(slot, member_kind::other);
        if (!open(object)) return fail(reason::too_deep);
        ++p_;
        skip_whitespace();
        if (next_is(object ? '}' : ']')) {
          ++p_;
          --depth_;
        } else if (object && !key()) {
          return fail(reason::syntax);
        } else {
          closed = false;
        }
        break;
      }
      case '"': {
        const char* contents = ++p_;
        bool escaped = false;
        if (!string(escaped)) return fail(reason::syntax);
        if (slot) {
          const std::string_view raw(contents, static_cast<std::size_t>(p_ - 1 - contents));
          if (escaped) set_decoded(slot, raw);
          else set(slot, member_kind::string, raw);
        }
        break;
      }
      case 't':
      case 'f':
      case 'n':
        if (!literal(*p_ == 't' ? "true" : *p_ == 'f' ? "false" : "null")) return fail(reason::syntax);
        if (slot) set(slot, member_kind::other);
        break;
      default: {
        reason why = reason::syntax;
        if ((*p_ != '-' && !is_digit(*p_)) || !number(slot, why)) return fail(why);
        break;
      }
    }
    if (!closed) continue;

    // After a value: close what ends here, then move to the next element.
    for (;;) {
      skip_whitespace();
      if (depth_ == 0) {
        if (p_ != end_) return fail(reason::syntax);
        return std::move(envelope_);
      }
      const bool object = in_object();
      if (next_is(',')) {
        ++p_;
        skip_whitespace();
        if (object && !key()) return fail(reason::syntax);
        break;
      }
      if (!next_is(object ? '}' : ']')) return fail(reason::syntax);
      ++p_;
      --depth_;
    }
  }
}

}  // namespace detail

result<envelope, envelope_error> scan_envelope(std::string_view text) {
  return detail::envelope_scanner(text).scan();
}

}  // namespace sigkit::proto
