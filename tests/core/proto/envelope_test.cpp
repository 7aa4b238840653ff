#include "sigkit/proto/envelope.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace sigkit::proto;
using json = nlohmann::json;
using reason = envelope_error::reason;

namespace {

bool accepts(std::string_view text) { return scan_envelope(text).ok(); }

envelope_error rejection(std::string_view text) {
  auto r = scan_envelope(text);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// The text must outlive the envelope: its members may view it.
envelope scanned(std::string_view text) {
  auto r = scan_envelope(text);
  REQUIRE(r.ok());
  return std::move(*r);
}

std::string nested(std::size_t depth, std::string_view open, std::string_view close, std::string_view inner = {}) {
  std::string text;
  for (std::size_t i = 0; i < depth; ++i) text += open;
  text += inner;
  for (std::size_t i = 0; i < depth; ++i) text += close;
  return text;
}

}  // namespace

TEST_CASE("numbers follow the RFC 8259 grammar, as nlohmann::json reads it") {
  for (std::string_view text : {"0", "-0", "7", "-7", "10", "1.5", "-1.5e10", "1E5", "1e+5", "1e-5", "0.0", "0e0",
                                "-0.0e-0", "123456789012345678901234567890", "1e-400", "4.9e-324",
                                "1.7976931348623157e308", "1.7976931348623158e308", "0.0001e312",
                                "0e99999999999999999999", "0.000e99999"}) {
    INFO(text);
    CHECK(accepts(text));
    CHECK(json::accept(text));
  }
  for (std::string_view text : {"-", "01", "-01", "00", "1.", ".5", "-.5", "1e", "1e+", "1e-", "E5", "+1", "1.e5",
                                "0x10", "1.5.5", "--1", "- 1", "1 2", "Infinity", "-Infinity", "NaN", "1_000",
                                "[-]", "[01]", "[1.]", "{\"a\":1e}"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
}

TEST_CASE("a number that overflows a double is out of range, as nlohmann::json finds it") {
  const std::string huge = "1" + std::string(309, '0');
  for (std::string_view text : {std::string_view("1e400"), std::string_view("-1e400"),
                                std::string_view("1.7976931348623159e308"), std::string_view("0.001e312"),
                                std::string_view("1e99999999999999999999"), std::string_view(huge)}) {
    INFO(text);
    CHECK(rejection(text).why == reason::out_of_range);
    CHECK_FALSE(json::accept(text));
  }
  CHECK(rejection("[1,2,1e999]").offset == 5);
}

TEST_CASE("integers are told from other numbers and printed as nlohmann::json prints them") {
  struct row {
    std::string_view rid;
    member_kind kind;
  };
  for (auto [rid, kind] : {row{"0", member_kind::integer}, row{"-0", member_kind::integer},
                           row{"42", member_kind::integer}, row{"-42", member_kind::integer},
                           row{"9223372036854775807", member_kind::integer},
                           row{"-9223372036854775808", member_kind::integer},
                           row{"18446744073709551615", member_kind::integer},
                           row{"-9223372036854775809", member_kind::other},
                           row{"18446744073709551616", member_kind::other},
                           row{"99999999999999999999", member_kind::other}, row{"1.0", member_kind::other},
                           row{"1e2", member_kind::other}, row{"0e0", member_kind::other}}) {
    const std::string text = "{\"rid\":" + std::string(rid) + "}";
    INFO(text);
    const auto e = scanned(text);
    CHECK(e.rid.kind() == kind);
    const auto rid_json = json::parse(text)["rid"];
    CHECK(rid_json.is_number_integer() == (kind == member_kind::integer));
    if (kind == member_kind::integer) CHECK(e.rid.text() == rid_json.dump());
  }
}

TEST_CASE("every escape is resolved in a member's value") {
  const auto e = scanned(R"({"type":"\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\u20ac\ud83d\ude00\uDBFF\uDFFF\u0000!"})");
  REQUIRE(e.type.kind() == member_kind::string);
  const std::string expected("\"\\/\b\f\n\r\tA\xC3\xA9\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xF4\x8F\xBF\xBF\0!", 26);
  CHECK(e.type.text() == expected);
  CHECK(e.type.text() == json::parse(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u00E9\u20ac\ud83d\ude00\uDBFF\uDFFF\u0000!")")
                             .get<std::string>());
}

TEST_CASE("a string without escapes is a view into the text") {
  const std::string text = R"({"type":"offer","sdp":"v=0"})";
  const auto e = scanned(text);
  CHECK(e.type.text() == "offer");
  CHECK(e.type.text().data() == text.data() + 9);
}

TEST_CASE("bad escapes and raw control characters are syntax errors") {
  for (std::string_view text : {R"("\a")", R"("\x41")", R"("\'")", R"("\U0041")", R"("\u12")", R"("\u12G4")",
                                R"("\u")", R"("\)", R"("\u004)", R"("\ ")", R"("\0")"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
  for (int c = 0; c < 0x20; ++c) {
    for (const std::string& text : {"\"" + std::string(1, static_cast<char>(c)) + "\"",
                                    "\"a long string with a raw " + std::string(1, static_cast<char>(c)) + " in it\""}) {
      INFO(c);
      CHECK(rejection(text).why == reason::syntax);
      CHECK_FALSE(json::accept(text));
    }
  }
  CHECK(accepts("\"\x7f\""));  // DEL is not a control character to RFC 8259
}

TEST_CASE("surrogates come in escaped pairs, high then low") {
  for (std::string_view text : {R"("\ud83d\ude00")", R"("\uD800\uDC00")", R"("\uDBFF\uDFFF")", R"("\ud7ff\ue000")"}) {
    INFO(text);
    CHECK(accepts(text));
    CHECK(json::accept(text));
  }
  for (std::string_view text : {R"("\ud83d")", R"("\ud83dx")", R"("\ud83d\u0041")", R"("\ud83d\ud83d")",
                                R"("\ude00")", R"("\ude00\ud83d")", R"("\udfff")", R"("\ud83d\\ude00")",
                                R"("\ud83d\n")", R"("\ud83d\ude0")", R"("\ud83d\u)"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
}

TEST_CASE("a string ends at its first unescaped quote, wherever in a word it falls") {
  // Special bytes at every offset around the eight-byte words of the scan.
  for (std::size_t at = 0; at < 20; ++at) {
    for (std::size_t after = 0; after < 12; ++after) {
      const std::string body(at, 'x');
      const std::string text = "{\"type\":\"" + body + "\",\"z\":\"" + std::string(after, 'y') + "\"}";
      INFO(text);
      CHECK(scanned(text).type.text() == body);
      const std::string escaped = "{\"type\":\"" + body + "\\\"" + std::string(after, 'y') + "\"}";
      CHECK(scanned(escaped).type.text() == body + "\"" + std::string(after, 'y'));
      const std::string control = "{\"type\":\"" + body + "\x1f" + std::string(after, 'y') + "\"}";
      CHECK(rejection(control).offset == 9 + at);
      CHECK(rejection("\"" + body + std::string(after, 'y')).why == reason::syntax);  // unterminated
    }
  }
  // Bytes of UTF-8 characters are never taken for quotes, backslashes or controls.
  CHECK(scanned("{\"type\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA2\xC2\x9C\"}").type.text() ==
        "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xC2\xA2\xC2\x9C");
}

TEST_CASE("literals are spelled out in lower case") {
  for (std::string_view text : {"true", "false", "null", "[true,false,null]"}) CHECK(accepts(text));
  for (std::string_view text : {"tru", "nul", "fals", "True", "NULL", "nulll", "truefalse", "t", "[nul]", "{\"a\":tru}"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
}

TEST_CASE("nesting is allowed to 512 arrays and objects, and no deeper") {
  CHECK(max_nesting == 512);
  CHECK(accepts(nested(512, "[", "]")));
  CHECK(accepts(nested(512, "{\"a\":", "}", "0")));
  CHECK(json::accept(nested(512, "{\"a\":", "}", "0")));
  CHECK(accepts(nested(511, "{\"a\":", "}", "0").insert(0, "[").append("]")));
  std::string mixed;
  for (int i = 0; i < 256; ++i) mixed += "{\"a\":[";
  mixed += "1";
  for (int i = 0; i < 256; ++i) mixed += "]}";
  CHECK(accepts(mixed));

  const auto too_deep = rejection(nested(513, "[", "]"));
  CHECK(too_deep.why == reason::too_deep);
  CHECK(too_deep.offset == 512);
  CHECK(rejection(nested(513, "{\"a\":", "}", "0")).why == reason::too_deep);
  CHECK(rejection(std::string(1'000'000, '[')).why == reason::too_deep);
  // A syntax error before the limit is reached is reported as such.
  CHECK(rejection("[x" + nested(600, "[", "]")).why == reason::syntax);
  // Depth is of what is open at once, not of how many there are.
  std::string many = "[";
  for (int i = 0; i < 2000; ++i) many += "[[]],";
  many += "0]";
  CHECK(accepts(many));
}

TEST_CASE("only space, tab, LF and CR are whitespace") {
  CHECK(accepts(" \t\n\r{ \t\n\r\"a\" \t\n\r: \t\n\r[ \t\n\r1 \t\n\r, \t\n\r2 \t\n\r] \t\n\r} \t\n\r"));
  for (std::string_view text : {"\f{}", "{}\f", "{\f}", "\v{}", "{\"a\":\v1}", "\xC2\xA0{}", "{\xC2\xA0}",
                                "{}\xC2\xA0", "\xE2\x80\xA8{}", "\xE3\x80\x80{}"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
  // RFC 8259 §8.1: a parser MAY ignore a byte order mark; nlohmann::json
  // does, we do not (no browser or WebRTC library sends one).
  CHECK(rejection("\xEF\xBB\xBF{}").why == reason::syntax);
}

TEST_CASE("nothing but whitespace may follow the value") {
  for (std::string_view text : {"{}x", "{}{}", "{} {}", "[1]]", "{}}", "1 2", "\"a\"\"b\"", "null,", "{},",
                                "{\"type\":\"ping\"}\n{\"type\":\"ping\"}"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
  CHECK(rejection(std::string_view("{}\0", 3)).offset == 2);
}

TEST_CASE("objects and arrays are separated by single commas") {
  for (std::string_view text : {"", " ", "[", "]", "{", "}", ":", ",", "{,}", "[,]", "[1,]", "[,1]", "[1,,2]",
                                "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{1:2}", "{'a':1}", "{a:1}",
                                "[1 2]", "{\"a\":1 \"b\":2}", "{\"a\"::1}", "{\"a\":1,,\"b\":2}", "[}", "{]",
                                "{\"a\":[}", "[{]}", "\"a\":1"}) {
    INFO(text);
    CHECK(rejection(text).why == reason::syntax);
    CHECK_FALSE(json::accept(text));
  }
  CHECK(rejection("{\"a\":1,}").offset == 7);
  for (std::string_view text : {"{}", "[]", "{\"a\":{}}", "[[],{}]", "{\"\":\"\"}", "[\"\"]"}) CHECK(accepts(text));
}

TEST_CASE("the top-level members the server reads") {
  const auto e = scanned(R"({"type":"offer","room":"r","to":"p","rid":7,"sdp":"v=0","from":"x"})");
  CHECK(e.is_object);
  CHECK((e.type.kind() == member_kind::string && e.type.text() == "offer"));
  CHECK((e.room.kind() == member_kind::string && e.room.text() == "r"));
  CHECK((e.to.kind() == member_kind::string && e.to.text() == "p"));
  CHECK((e.rid.kind() == member_kind::integer && e.rid.text() == "7"));
  CHECK(e.has_from);

  const auto none = scanned(R"({"sdp":"v=0"})");
  CHECK(none.is_object);
  CHECK(none.type.kind() == member_kind::absent);
  CHECK(none.rid.kind() == member_kind::absent);
  CHECK_FALSE(none.has_from);

  for (std::string_view text : {R"({"type":null})", R"({"type":true})", R"({"type":false})", R"({"type":[]})",
                                R"({"type":{}})", R"({"type":["offer"]})", R"({"type":{"type":"offer"}})",
                                R"({"type":1.5})"}) {
    INFO(text);
    const auto other = scanned(text);
    CHECK(other.type.kind() == member_kind::other);
    CHECK(other.type.text().empty());
  }
}

TEST_CASE("keys may be spelled with escapes") {
  CHECK(scanned(R"({"t\u0079pe":"offer"})").type.text() == "offer");
  CHECK(scanned(R"({"\u0074\u0079\u0070\u0065":"x"})").type.text() == "x");
  CHECK(scanned(R"({"\u0072\u006F\u006f\u006D":"x"})").room.text() == "x");
  CHECK(scanned(R"({"t\u006f":"x"})").to.text() == "x");
  CHECK(scanned(R"({"\u0072id":"x"})").rid.text() == "x");
  CHECK(scanned(R"({"fr\u006fm":null})").has_from);
  CHECK(scanned(R"({"type\u0000":"x"})").type.kind() == member_kind::absent);
  CHECK(scanned(R"({"ty\"pe":"x"})").type.kind() == member_kind::absent);
  CHECK(scanned(R"({"\ud83d\ude00type":"x"})").type.kind() == member_kind::absent);
  CHECK(scanned(R"({"type ":"x","Type":"y"})").type.kind() == member_kind::absent);
}

TEST_CASE("a duplicated key: the last one wins") {
  CHECK(scanned(R"({"type":"a","type":"b"})").type.text() == "b");
  CHECK(scanned(R"({"type":"a","type":5})").type.kind() == member_kind::integer);
  CHECK(scanned(R"({"type":5,"type":"a"})").type.text() == "a");
  CHECK(scanned(R"({"type":"a\u0041","type":"b"})").type.text() == "b");
  CHECK(scanned(R"({"type":"b","t\u0079pe":"a\u0041"})").type.text() == "aA");
  CHECK(scanned(R"({"type":"a\u0041","type":null})").type.kind() == member_kind::other);
  CHECK(scanned(R"({"from":1,"x":2})").has_from);
}

TEST_CASE("members deeper than the top level are ignored") {
  const auto e = scanned(R"({"a":{"type":"x","from":1,"rid":2},"b":[{"room":"y"},"to"],"type":"z"})");
  CHECK(e.type.text() == "z");
  CHECK(e.room.kind() == member_kind::absent);
  CHECK(e.to.kind() == member_kind::absent);
  CHECK(e.rid.kind() == member_kind::absent);
  CHECK_FALSE(e.has_from);
  CHECK_FALSE(scanned(R"({"x":"from","y":["from"]})").has_from);
  CHECK(scanned(R"({"type":{"a":1},"b":"not a type"})").type.kind() == member_kind::other);

  for (std::string_view text : {R"([{"type":"offer","from":1}])", R"("type")", "7", "null"}) {
    INFO(text);
    const auto top = scanned(text);
    CHECK_FALSE(top.is_object);
    CHECK(top.type.kind() == member_kind::absent);
    CHECK_FALSE(top.has_from);
  }
}

TEST_CASE("an envelope keeps its resolved strings when copied") {
  const std::string text = R"({"type":"\u006Ffer","room":"plain"})";
  envelope copy;
  {
    auto first = scanned(text);
    copy = first;
  }
  CHECK(copy.type.text() == "ofer");
  CHECK(copy.room.text() == "plain");
}
