#include "sigkit/resp/writer.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "sigkit/resp/reader.hpp"

using namespace sigkit::resp;

namespace {

value read_one(std::string_view bytes) {
  reader r;
  std::size_t consumed = 0;
  auto e = r.next(std::span<const char>(bytes.data(), bytes.size()), consumed);
  REQUIRE(e.what == reader::event::kind::value);
  REQUIRE(consumed == bytes.size());
  return std::move(e.value);
}

}  // namespace

TEST_CASE("RESP: a command is an array of bulk strings, byte for byte", "[resp]") {
  // The protocol spec's example: LLEN mylist.
  const std::vector<std::string_view> llen{"LLEN", "mylist"};
  CHECK(encode_command(llen) == "*2\r\n$4\r\nLLEN\r\n$6\r\nmylist\r\n");
  const std::vector<std::string> set{"SET", "k", "a\r\nb"};
  CHECK(encode_command(set) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
  const std::vector<std::string> empty_arg{"ECHO", ""};
  CHECK(encode_command(empty_arg) == "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n");
}

TEST_CASE("RESP: commands are binary-safe and read back unchanged", "[resp]") {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  const std::vector<std::string> args{"SET", all_bytes, std::string("\0\r\n\0", 4), std::string(70000, 'x')};
  const value v = read_one(encode_command(args));
  REQUIRE(v.what == kind::array);
  REQUIRE(v.elements.size() == args.size());
  for (std::size_t i = 0; i < args.size(); ++i) CHECK(v.elements[i] == value::bulk(args[i]));
}

TEST_CASE("RESP: several commands append into one pipeline", "[resp]") {
  std::string out;
  const std::vector<std::string_view> ping{"PING"};
  const std::vector<std::string_view> incr{"INCR", "n"};
  append_command(out, ping);
  append_command(out, incr);
  CHECK(out == "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n");
}

TEST_CASE("RESP: every value encodes canonically and reads back", "[resp]") {
  const std::vector<value> all{value::simple("OK"),
                               value::error("ERR x"),
                               value::number(-9),
                               value::bulk(std::string("\0a\r\n", 4)),
                               value::null(),
                               value::null_array(),
                               value::array({}),
                               value::array({value::number(1), value::array({value::null(), value::simple("")})})};
  for (const auto& v : all) {
    INFO(to_string(v));
    CHECK(read_one(encode(v)) == v);
  }
  CHECK(encode(value::array({value::number(1), value::null()})) == "*2\r\n:1\r\n$-1\r\n");
  // A simple string cannot hold CR or LF: they become spaces.
  CHECK(encode(value::simple("a\r\nb")) == "+a  b\r\n");
}

TEST_CASE("RESP: values render readably", "[resp]") {
  CHECK(to_string(value::simple("OK")) == "OK");
  CHECK(to_string(value::error("ERR no")) == "(error) ERR no");
  CHECK(to_string(value::number(3)) == "(integer) 3");
  CHECK(to_string(value::bulk(std::string("a\0\"\n", 4))) == "\"a\\x00\\\"\\n\"");
  CHECK(to_string(value::null()) == "(nil)");
  CHECK(to_string(value::null_array()) == "(nil array)");
  CHECK(to_string(value::array({value::number(1), value::bulk("x")})) == "[(integer) 1, \"x\"]");
  CHECK(to_string(value::bulk(std::string(300, 'y')), 4) == "\"yyyy...(300 bytes)\"");
}
