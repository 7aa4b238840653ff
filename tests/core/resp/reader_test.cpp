#include "sigkit/resp/reader.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "sigkit/resp/writer.hpp"

using namespace sigkit::resp;
using event_kind = reader::event::kind;

namespace sigkit::resp {
// Catch prints values that differ in the manner of redis-cli.
std::ostream& operator<<(std::ostream& os, const value& v) { return os << to_string(v); }
}  // namespace sigkit::resp

namespace {

// What a user of the reader sees of a stream.
struct outcome {
  std::vector<value> values;
  std::string failure;            // why, when it failed
  std::size_t left = 0;           // bytes left unconsumed at the end
  std::size_t element_bytes = 0;  // from the last need_more
  bool operator==(const outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const outcome& o) {
  os << "{" << o.values.size() << " values:";
  for (const auto& v : o.values) os << " " << to_string(v);
  return os << "; failure '" << o.failure << "', " << o.left << " bytes left}";
}

// A connection as a client runs it: bytes arrive, are appended to what was
// left unconsumed, and the reader is asked for values until it needs more.
struct connection {
  reader r;
  std::string pending;
  outcome out;

  explicit connection(limits l) : r(l) {}

  void receive(std::string_view more) {
    pending.append(more);
    for (;;) {
      std::size_t consumed = std::numeric_limits<std::size_t>::max();
      auto e = r.next(pending, consumed);
      REQUIRE(consumed <= pending.size());
      pending.erase(0, consumed);
      if (e.what == event_kind::value) {
        out.values.push_back(std::move(e.value));
        continue;
      }
      if (e.what == event_kind::fail) {
        REQUIRE(!e.why.empty());
        REQUIRE(pending.empty());
        out.failure = std::string(e.why);
      }
      out.element_bytes = e.element_bytes;
      out.left = pending.size();
      return;
    }
  }
};

outcome read_whole(std::string_view stream, limits l = {}) {
  connection c(l);
  c.receive(stream);
  return c.out;
}

outcome read_in_pieces(std::string_view stream, const std::vector<std::size_t>& cuts, limits l = {}) {
  connection c(l);
  std::size_t at = 0;
  for (const std::size_t cut : cuts) {
    c.receive(stream.substr(at, cut - at));
    at = cut;
  }
  c.receive(stream.substr(at));
  return c.out;
}

// The same outcome whole, cut once at every byte, cut twice at every pair
// of bytes (short streams) and a byte at a time.
void check_every_split(std::string_view stream, const outcome& expected, limits l = {}) {
  CHECK(read_whole(stream, l) == expected);
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(read_in_pieces(stream, {cut}, l) == expected);
  }
  if (stream.size() <= 64)
    for (std::size_t a = 1; a < stream.size(); ++a)
      for (std::size_t b = a; b < stream.size(); ++b) {
        INFO("cuts at " << a << " and " << b);
        REQUIRE(read_in_pieces(stream, {a, b}, l) == expected);
      }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
  CHECK(read_in_pieces(stream, every, l) == expected);
}

outcome values(std::vector<value> v) { return {std::move(v), {}, 0, 0}; }
outcome failed(std::string why, std::vector<value> before = {}) { return {std::move(before), std::move(why), 0, 0}; }

value bulk(std::string_view s) { return value::bulk(std::string(s)); }

std::string failure_of(std::string_view stream, limits l = {}) { return read_whole(stream, l).failure; }

}  // namespace

// ---- Every type, as the protocol spec writes it ------------------------------

TEST_CASE("RESP: simple strings, errors and integers", "[resp]") {
  CHECK(read_whole("+OK\r\n") == values({value::simple("OK")}));
  CHECK(read_whole("+\r\n") == values({value::simple("")}));
  CHECK(read_whole("-ERR unknown command 'foobar'\r\n") == values({value::error("ERR unknown command 'foobar'")}));
  CHECK(read_whole("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n").values.at(0).is_error());
  CHECK(read_whole(":0\r\n") == values({value::number(0)}));
  CHECK(read_whole(":1000\r\n") == values({value::number(1000)}));
  CHECK(read_whole(":-42\r\n") == values({value::number(-42)}));
  CHECK(read_whole(":9223372036854775807\r\n") == values({value::number(std::numeric_limits<std::int64_t>::max())}));
  CHECK(read_whole(":-9223372036854775808\r\n") == values({value::number(std::numeric_limits<std::int64_t>::min())}));
}

TEST_CASE("RESP: bulk strings are binary-safe, and the null bulk string is not an empty one", "[resp]") {
  CHECK(read_whole("$5\r\nhello\r\n") == values({bulk("hello")}));
  CHECK(read_whole("$0\r\n\r\n") == values({bulk("")}));
  CHECK(read_whole("$-1\r\n") == values({value::null()}));
  CHECK(read_whole("$-1\r\n").values.at(0) != bulk(""));
  const std::string binary("a\r\nb\0c\xff\r\n", 10);
  CHECK(read_whole("$10\r\n" + binary + "\r\n") == values({value::bulk(binary)}));
  // A bulk string that looks like other values inside is still one string.
  CHECK(read_whole("$9\r\n+OK\r\n:1\r\n\r\n") == values({bulk("+OK\r\n:1\r\n")}));
}

TEST_CASE("RESP: arrays, empty, null and nested", "[resp]") {
  CHECK(read_whole("*0\r\n") == values({value::array({})}));
  CHECK(read_whole("*-1\r\n") == values({value::null_array()}));
  CHECK(read_whole("*-1\r\n").values.at(0) != value::array({}));
  CHECK(read_whole("*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n") == values({value::array({bulk("foo"), bulk("bar")})}));
  CHECK(read_whole("*3\r\n:1\r\n:2\r\n:3\r\n") ==
        values({value::array({value::number(1), value::number(2), value::number(3)})}));
  // Mixed types, and a null inside an array (the spec's example).
  CHECK(read_whole("*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n$5\r\nhello\r\n").values.at(0).elements.size() == 5);
  CHECK(read_whole("*3\r\n$3\r\nfoo\r\n$-1\r\n$3\r\nbar\r\n") ==
        values({value::array({bulk("foo"), value::null(), bulk("bar")})}));
  // The spec's nested example: [[1, 2, 3], ["Hello", (error) World]].
  CHECK(read_whole("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n") ==
        values({value::array({value::array({value::number(1), value::number(2), value::number(3)}),
                              value::array({value::simple("Hello"), value::error("World")})})}));
  CHECK(read_whole("*1\r\n*1\r\n*0\r\n") == values({value::array({value::array({value::array({})})})}));
  CHECK(read_whole("*2\r\n*-1\r\n*0\r\n") == values({value::array({value::null_array(), value::array({})})}));
}

TEST_CASE("RESP: a pub/sub message is an array of three bulk strings", "[resp]") {
  CHECK(read_whole("*3\r\n$7\r\nmessage\r\n$5\r\nfirst\r\n$5\r\nHello\r\n") ==
        values({value::array({bulk("message"), bulk("first"), bulk("Hello")})}));
}

// ---- Pipelines and splits ---------------------------------------------------

TEST_CASE("RESP: pipelined replies come out one at a time, in order", "[resp]") {
  const std::string stream = "+OK\r\n:1\r\n$3\r\nabc\r\n*2\r\n:1\r\n$-1\r\n-ERR x\r\n";
  reader r;
  std::size_t consumed = 0;
  std::string_view rest = stream;
  std::vector<value> got;
  for (;;) {
    auto e = r.next(std::span<const char>(rest.data(), rest.size()), consumed);
    rest.remove_prefix(consumed);
    if (e.what != event_kind::value) break;
    got.push_back(std::move(e.value));
  }
  CHECK(rest.empty());
  CHECK(got == std::vector<value>{value::simple("OK"), value::number(1), bulk("abc"),
                                  value::array({value::number(1), value::null()}), value::error("ERR x")});
}

TEST_CASE("RESP: every value reads the same however its bytes are split", "[resp]") {
  check_every_split("+OK\r\n", values({value::simple("OK")}));
  check_every_split("-ERR no\r\n", values({value::error("ERR no")}));
  check_every_split(":-123\r\n", values({value::number(-123)}));
  check_every_split("$4\r\na\r\nb\r\n", values({bulk("a\r\nb")}));
  check_every_split("$-1\r\n", values({value::null()}));
  check_every_split("*-1\r\n", values({value::null_array()}));
  check_every_split("*0\r\n", values({value::array({})}));
  check_every_split("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*2\r\n+Hello\r\n-World\r\n",
                    values({value::array({value::array({value::number(1), value::number(2), value::number(3)}),
                                          value::array({value::simple("Hello"), value::error("World")})})}));
  check_every_split("+OK\r\n:1\r\n$3\r\nabc\r\n*2\r\n:1\r\n$-1\r\n",
                    values({value::simple("OK"), value::number(1), bulk("abc"),
                            value::array({value::number(1), value::null()})}));
  // Malformed input fails the same way too, after the same values.
  check_every_split(":1\r\n$3\r\nabcX\r\n", failed("bulk string not followed by CRLF", {value::number(1)}));
  check_every_split("*2\r\n:1\r\n:x\r\n", failed("bad integer"));
  check_every_split("+OK\rX", failed("carriage return without line feed"));
}

TEST_CASE("RESP: a partial value is left unconsumed, but an unfinished array's elements are taken", "[resp]") {
  reader r;
  std::size_t consumed = 0;
  std::string input = "+OK\r";
  auto e = r.next(input, consumed);
  CHECK(e.what == event_kind::need_more);
  CHECK(consumed == 0);

  reader r2;
  input = "*3\r\n:1\r\n$5\r\nhel";
  e = r2.next(input, consumed);
  CHECK(e.what == event_kind::need_more);
  CHECK(consumed == 8);  // the header and :1 live in the reader now
  CHECK(r2.depth() == 1);
  // The bulk string's length line is here: its size, CRLFs included.
  CHECK(e.element_bytes == 11);
  input.erase(0, consumed);
  input += "lo\r\n+x\r\n";
  e = r2.next(input, consumed);
  REQUIRE(e.what == event_kind::value);
  CHECK(consumed == input.size());
  CHECK(e.value == value::array({value::number(1), bulk("hello"), value::simple("x")}));
  CHECK(r2.depth() == 0);
}

TEST_CASE("RESP: empty input needs more", "[resp]") {
  reader r;
  std::size_t consumed = 7;
  CHECK(r.next({}, consumed).what == event_kind::need_more);
  CHECK(consumed == 0);
}

// ---- Limits -------------------------------------------------------------------

TEST_CASE("RESP: a bulk string over the limit fails from its length line, before its bytes", "[resp]") {
  limits l;
  l.max_bulk_bytes = 10;
  CHECK(read_whole("$10\r\n0123456789\r\n", l) == values({bulk("0123456789")}));
  CHECK(failure_of("$11\r\n", l) == "bulk string too long");
  CHECK(failure_of("$99999999999999999\r\n") == "bulk string too long");
  CHECK(failure_of("$536870913\r\n") == "bulk string too long");  // the default: 512 MiB
  CHECK(read_whole("$536870912\r\n").failure.empty());
}

TEST_CASE("RESP: an array over the limit fails from its length line", "[resp]") {
  limits l;
  l.max_array_elements = 3;
  CHECK(read_whole("*3\r\n:1\r\n:2\r\n:3\r\n", l).values.size() == 1);
  CHECK(failure_of("*4\r\n", l) == "array too long");
  CHECK(failure_of("*2\r\n*4\r\n", l) == "array too long");
  CHECK(failure_of("*1048577\r\n") == "array too long");  // the default: 1M elements
  CHECK(read_whole("*1048576\r\n").failure.empty());
}

TEST_CASE("RESP: arrays nested deeper than the limit fail, at the limit they read", "[resp]") {
  limits l;
  l.max_depth = 3;
  CHECK(read_whole("*1\r\n*1\r\n*1\r\n:1\r\n", l).values.size() == 1);
  CHECK(read_whole("*1\r\n*1\r\n*0\r\n", l).values.size() == 1);
  CHECK(failure_of("*1\r\n*1\r\n*1\r\n*0\r\n", l) == "arrays nested too deep");
  CHECK(failure_of("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", l) == "arrays nested too deep");
  // A null array is no array: it opens no level.
  CHECK(read_whole("*1\r\n*1\r\n*1\r\n*-1\r\n", l).values.size() == 1);
  std::string deep;
  for (int i = 0; i < 32; ++i) deep += "*1\r\n";
  CHECK(read_whole(deep + ":1\r\n").values.size() == 1);  // the default: 32 levels
  CHECK(failure_of(deep + "*1\r\n:1\r\n") == "arrays nested too deep");
}

TEST_CASE("RESP: a line over the limit fails before its end arrives", "[resp]") {
  limits l;
  l.max_line_bytes = 8;
  CHECK(read_whole("+12345678\r\n", l) == values({value::simple("12345678")}));
  CHECK(failure_of("+123456789", l) == "line too long");
  CHECK(failure_of("-123456789\r\n", l) == "line too long");
  CHECK(failure_of("$000000000", l) == "line too long");
  check_every_split("+OK\r\n+123456789", failed("line too long", {value::simple("OK")}), l);
}

// ---- Malformed input ----------------------------------------------------------

TEST_CASE("RESP: a bad type byte fails, RESP3's types included", "[resp]") {
  for (const char* stream : {"x\r\n", " +OK\r\n", "\r\n", "%1\r\n", "~1\r\n", ">3\r\n", "_\r\n", "#t\r\n", ",1.5\r\n",
                             "(1\r\n", "=5\r\ntxt:a\r\n", "!3\r\nerr\r\n", "|1\r\n", "PONG\r\n"}) {
    INFO(stream);
    CHECK(failure_of(stream) == "bad type byte");
  }
  CHECK(failure_of("*2\r\n:1\r\n?\r\n") == "bad type byte");
}

TEST_CASE("RESP: lengths are plain decimals; negative ones other than -1 fail", "[resp]") {
  for (const char* stream : {"$\r\n", "$a\r\n", "$1a\r\n", "$ 1\r\n", "$1 \r\n", "$+1\r\n", "$01\r\n", "$-0\r\n",
                             "$-01\r\n", "$0x10\r\n", "$1.0\r\n", "$-\r\n", "*\r\n", "*1x\r\n", "*+1\r\n", "*00\r\n",
                             "$99999999999999999999\r\n", "*18446744073709551616\r\n"}) {
    INFO(stream);
    CHECK(failure_of(stream) == "bad length");
  }
  for (const char* stream : {"$-2\r\n", "*-2\r\n", "$-9223372036854775808\r\n", "*-100\r\n"}) {
    INFO(stream);
    CHECK(failure_of(stream) == "negative length");
  }
}

TEST_CASE("RESP: integers are decimal 64-bit numbers", "[resp]") {
  for (const char* stream : {":\r\n", ":-\r\n", ":abc\r\n", ":1a\r\n", ":+1\r\n", ":01\r\n", ":-0\r\n", ": 1\r\n",
                             ":1.5\r\n", ":9223372036854775808\r\n", ":-9223372036854775809\r\n",
                             ":99999999999999999999\r\n"}) {
    INFO(stream);
    CHECK(failure_of(stream) == "bad integer");
  }
}

TEST_CASE("RESP: every line ends in CRLF, and so does every bulk string", "[resp]") {
  CHECK(failure_of("+OK\n") == "line feed without carriage return");
  CHECK(failure_of(":1\n") == "line feed without carriage return");
  CHECK(failure_of("+O\nK\r\n") == "line feed without carriage return");
  CHECK(failure_of("+OK\rX\n") == "carriage return without line feed");
  CHECK(failure_of("$3\rX") == "carriage return without line feed");
  CHECK(failure_of("$3\r\nabcd\r\n") == "bulk string not followed by CRLF");
  CHECK(failure_of("$3\r\nab\r\n+") == "bulk string not followed by CRLF");
  CHECK(failure_of("$3\r\nabc\n\r") == "bulk string not followed by CRLF");
  CHECK(failure_of("$3\r\nabc\rX") == "bulk string not followed by CRLF");
  // Incomplete is not malformed.
  CHECK(read_whole("$3\r\nabc\r") == outcome{{}, {}, 8, 9});
  CHECK(read_whole("+OK\r") == outcome{{}, {}, 4, 0});
}

TEST_CASE("RESP: after a failure the reader is finished until reset", "[resp]") {
  reader r;
  std::size_t consumed = 0;
  std::string input = "*2\r\n:1\r\n?oops\r\n";
  auto e = r.next(input, consumed);
  CHECK(e.what == event_kind::fail);
  CHECK(consumed == input.size());
  CHECK(r.finished());
  CHECK(r.depth() == 0);
  input = "+OK\r\n";
  e = r.next(input, consumed);
  CHECK(e.what == event_kind::need_more);
  CHECK(consumed == input.size());
  r.reset();
  CHECK_FALSE(r.finished());
  e = r.next(input, consumed);
  REQUIRE(e.what == event_kind::value);
  CHECK(e.value == value::simple("OK"));
}

TEST_CASE("RESP: reset drops an unfinished array", "[resp]") {
  reader r;
  std::size_t consumed = 0;
  std::string input = "*2\r\n:1\r\n";
  CHECK(r.next(input, consumed).what == event_kind::need_more);
  CHECK(r.depth() == 1);
  r.reset();
  input = ":2\r\n";
  auto e = r.next(input, consumed);
  REQUIRE(e.what == event_kind::value);
  CHECK(e.value == value::number(2));
}
