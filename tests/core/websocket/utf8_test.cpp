#include "sigkit/websocket/utf8.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace sigkit::websocket;

namespace {

// A decoder written the slow way, from RFC 3629's definition: decode each
// code point and reject overlong forms, surrogates and values above U+10FFFF.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = cp << 6 | (d & 0x3F);
    }
    const std::uint32_t smallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < smallest[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

// Feeds `s` cut at `cut`: valid and complete, as one feed would say.
bool valid_in_two(std::string_view s, std::size_t cut) {
  utf8_validator v;
  return v.feed(s.substr(0, cut)) && v.feed(s.substr(cut)) && v.complete();
}

}  // namespace

TEST_CASE("utf8: valid text, including every boundary code point", "[websocket]") {
  for (std::string_view s : {
           std::string_view(""), std::string_view("hello, world"),
           std::string_view("\x7F"),                 // U+007F
           std::string_view("\xC2\x80"),             // U+0080
           std::string_view("\xDF\xBF"),             // U+07FF
           std::string_view("\xE0\xA0\x80"),         // U+0800
           std::string_view("\xED\x9F\xBF"),         // U+D7FF, just below the surrogates
           std::string_view("\xEE\x80\x80"),         // U+E000, just above them
           std::string_view("\xEF\xBF\xBF"),         // U+FFFF
           std::string_view("\xF0\x90\x80\x80"),     // U+10000
           std::string_view("\xF4\x8F\xBF\xBF"),     // U+10FFFF, the last code point
           std::string_view("\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"),  // "κόσμε"
           std::string_view("{\"type\":\"offer\",\"sdp\":\"v=0 \xE2\x82\xAC\xF0\x9D\x84\x9E\"}"),
       }) {
    INFO("bytes: " << s.size());
    CHECK(is_valid_utf8(s));
  }
}

TEST_CASE("utf8: overlong forms, surrogates, values above U+10FFFF and stray bytes are refused", "[websocket]") {
  for (std::string_view s : {
           std::string_view("\xC0\x80"),              // overlong U+0000
           std::string_view("\xC1\xBF"),              // overlong U+007F
           std::string_view("\xE0\x80\x80"),          // overlong U+0000
           std::string_view("\xE0\x9F\xBF"),          // overlong U+07FF
           std::string_view("\xF0\x8F\xBF\xBF"),      // overlong U+FFFF
           std::string_view("\xED\xA0\x80"),          // U+D800
           std::string_view("\xED\xBF\xBF"),          // U+DFFF
           std::string_view("\xED\xA0\x80\xED\xB0\x80"),  // a surrogate pair, CESU-8 style
           std::string_view("\xF4\x90\x80\x80"),      // U+110000
           std::string_view("\xF5\x80\x80\x80"), std::string_view("\xF8\x88\x80\x80\x80"),
           std::string_view("\xFE"), std::string_view("\xFF"),
           std::string_view("\x80"), std::string_view("\xBF"),  // stray continuation bytes
           std::string_view("a\x80z"), std::string_view("\xC3\xA9\xA9"),
           std::string_view("\xC3"), std::string_view("\xE2\x82"), std::string_view("\xF0\x9D\x84"),  // truncated
           std::string_view("\xC3\x41"), std::string_view("\xE2\x41\x82"),  // a lead byte followed by ASCII
       }) {
    INFO("bytes: " << s.size());
    CHECK_FALSE(is_valid_utf8(s));
    CHECK_FALSE(reference_valid(s));
  }
}

TEST_CASE("utf8: agrees with a reference decoder on every two-byte input and many longer ones", "[websocket]") {
  const unsigned char tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC3, 0xE2, 0xF0, 0xFF};
  std::size_t disagreements = 0;
  std::size_t valid = 0;
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      std::string s{static_cast<char>(a), static_cast<char>(b)};
      if (is_valid_utf8(s) != reference_valid(s)) ++disagreements;
      for (unsigned char c : tails) {
        for (unsigned char d : tails) {
          std::string t{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
          const bool expected = reference_valid(t);
          valid += expected;
          if (is_valid_utf8(t) != expected) ++disagreements;
        }
      }
    }
  }
  CHECK(disagreements == 0);
  CHECK(valid > 10000);  // the sample is not all invalid
}

TEST_CASE("utf8: a character split across feeds at every byte", "[websocket]") {
  const std::string text = "a\xC3\xA9" "b\xE2\x82\xAC" "c\xF0\x9D\x84\x9E" "d";
  for (std::size_t cut = 0; cut <= text.size(); ++cut) CHECK(valid_in_two(text, cut));
  // A byte at a time, and the boundary is known after each whole character.
  utf8_validator v;
  for (std::size_t i = 0; i < text.size(); ++i) {
    REQUIRE(v.feed(text.substr(i, 1)));
    const auto next = i + 1 < text.size() ? static_cast<unsigned char>(text[i + 1]) : 0;
    CHECK(v.complete() == ((next & 0xC0) != 0x80));
  }
  for (std::string bad : {"\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE0\x80\x80", "\xC3\xA9\xA9"}) {
    for (std::size_t cut = 0; cut <= bad.size(); ++cut) CHECK_FALSE(valid_in_two(bad, cut));
  }
}

TEST_CASE("utf8: fails as soon as the bytes cannot be valid, not at the end", "[websocket]") {
  struct early {
    std::string_view good;  // a prefix that could still become valid
    std::string_view bad;   // the byte that makes it impossible
  };
  for (const early& e : {early{"\xED", "\xA0"}, early{"\xF4", "\x90"}, early{"\xE0", "\x9F"}, early{"\xF0", "\x8F"},
                         early{"\xE2\x82", "\x41"}, early{"ok \xF0\x9D", "\xC0"}, early{"", "\xC0"}, early{"", "\xF5"},
                         early{"abc", "\x80"}}) {
    utf8_validator v;
    REQUIRE(v.feed(e.good));
    CHECK(v.feed(e.bad) == false);
  }
}

TEST_CASE("utf8: a failure sticks until reset", "[websocket]") {
  utf8_validator v;
  CHECK_FALSE(v.feed("\xFF"));
  CHECK_FALSE(v.complete());
  CHECK_FALSE(v.feed("plain ASCII"));
  v.reset();
  CHECK(v.complete());
  CHECK(v.feed("plain ASCII"));
  CHECK(v.complete());
}

TEST_CASE("utf8: incomplete at the end is not complete", "[websocket]") {
  utf8_validator v;
  CHECK(v.feed("abc\xF0\x9D"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x84"));
  CHECK_FALSE(v.complete());
  CHECK(v.feed("\x9E"));
  CHECK(v.complete());
}

TEST_CASE("utf8: the ASCII fast path finds a bad byte at every position and alignment", "[websocket]") {
  const std::string ascii(64, 'x');
  for (std::size_t start = 0; start < 8; ++start) {
    for (std::size_t at = start; at < ascii.size(); ++at) {
      for (std::string bad : {"\x80", "\xFF", "\xC3"}) {
        std::string s = ascii;
        s.replace(at, 1, bad);
        REQUIRE_FALSE(is_valid_utf8(std::string_view(s).substr(start)));
      }
      std::string good = ascii;
      good.replace(at, 1, "\xC3\xA9");
      REQUIRE(is_valid_utf8(std::string_view(good).substr(start)));
    }
  }
}
