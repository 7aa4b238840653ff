#include "sigkit/websocket/utf8.hpp"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

namespace sigkit::websocket {

namespace {

// RFC 3629 §4 (the syntax of UTF-8 byte sequences): a lead byte fixes how
// many continuation bytes follow and narrows the range of the first of them;
// that narrowing is what rules out overlong forms (E0 80..9F, F0 80..8F),
// surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF).
// C0, C1 and F5..FF never start a character; 80..BF only continue one.
struct lead {
  std::uint8_t continuation_bytes = 0;  // 0: not a lead byte (or ASCII)
  std::uint8_t lo = 0;                  // range of the byte after it
  std::uint8_t hi = 0;
};

constexpr std::array<lead, 256> leads = [] {
  std::array<lead, 256> t{};
  for (int c = 0xC2; c <= 0xDF; ++c) t[c] = {1, 0x80, 0xBF};
  t[0xE0] = {2, 0xA0, 0xBF};
  for (int c = 0xE1; c <= 0xEC; ++c) t[c] = {2, 0x80, 0xBF};
  t[0xED] = {2, 0x80, 0x9F};
  t[0xEE] = t[0xEF] = {2, 0x80, 0xBF};
  t[0xF0] = {3, 0x90, 0xBF};
  t[0xF1] = t[0xF2] = t[0xF3] = {3, 0x80, 0xBF};
  t[0xF4] = {3, 0x80, 0x8F};
  return t;
}();

// state_ packs a character left open by the previous feed: the continuation
// bytes still expected (low byte) and the range of the next one (lo, hi).
// 0 is a character boundary; `broken` sticks once a feed has failed.
constexpr std::uint32_t broken = 0xFFFFFFFFu;
constexpr std::uint32_t pack(std::uint32_t remaining, std::uint32_t lo, std::uint32_t hi) {
  return remaining | lo << 8 | hi << 16;
}

constexpr std::uint64_t high_bits = 0x8080808080808080ull;

}  // namespace

bool utf8_validator::feed(std::string_view bytes) noexcept {
  if (state_ == broken) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();

  // Finish the character the previous feed left open.
  if (state_ != 0) {
    std::uint32_t remaining = state_ & 0xFF;
    std::uint32_t lo = (state_ >> 8) & 0xFF;
    std::uint32_t hi = state_ >> 16;
    for (; remaining != 0; --remaining, ++p, lo = 0x80, hi = 0xBF) {
      if (p == end) {
        state_ = pack(remaining, lo, hi);
        return true;
      }
      if (*p < lo || *p > hi) {
        state_ = broken;
        return false;
      }
    }
    state_ = 0;
  }

  while (p != end) {
    // Text on a signaling channel is mostly ASCII (JSON): skip it a word at
    // a time, and land on the first non-ASCII byte of the word that stops it.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      const std::uint64_t high = w & high_bits;
      if (high != 0) {
        if constexpr (std::endian::native == std::endian::little) p += std::countr_zero(high) / 8;
        break;
      }
      p += 8;
    }
    while (p != end && *p < 0x80) ++p;
    if (p == end) break;

    const lead l = leads[*p];
    if (l.continuation_bytes == 0) {
      state_ = broken;
      return false;
    }
    ++p;
    if (end - p >= l.continuation_bytes) {
      // The whole character is here.
      if (p[0] < l.lo || p[0] > l.hi) {
        state_ = broken;
        return false;
      }
      for (std::size_t i = 1; i < l.continuation_bytes; ++i) {
        if ((p[i] & 0xC0) != 0x80) {
          state_ = broken;
          return false;
        }
      }
      p += l.continuation_bytes;
      continue;
    }
    // The character goes on in the next feed: check what is here now, so a
    // bad byte fails at once rather than when the rest arrives.
    std::uint32_t remaining = l.continuation_bytes;
    std::uint32_t lo = l.lo;
    std::uint32_t hi = l.hi;
    for (; p != end; ++p, --remaining, lo = 0x80, hi = 0xBF) {
      if (*p < lo || *p > hi) {
        state_ = broken;
        return false;
      }
    }
    state_ = pack(remaining, lo, hi);
    return true;
  }
  return true;
}

bool is_valid_utf8(std::string_view bytes) noexcept {
  utf8_validator v;
  return v.feed(bytes) && v.complete();
}

}  // namespace sigkit::websocket
