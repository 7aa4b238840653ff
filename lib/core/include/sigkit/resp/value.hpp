// One RESP2 value (https://redis.io/docs/reference/protocol-spec/), owned.
// Redis answers every command with one of these; a pub/sub message is an
// array of three bulk strings.
//
//   +OK\r\n                  simple string   (no CR or LF inside)
//   -ERR unknown command\r\n error           (the same, as a failure)
//   :1000\r\n                integer         (signed 64-bit)
//   $5\r\nhello\r\n          bulk string     (binary-safe, length first)
//   $-1\r\n                  null bulk string
//   *2\r\n:1\r\n:2\r\n       array           (of any values, nested too)
//   *-1\r\n                  null array
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sigkit::resp {

enum class kind : std::uint8_t {
  simple_string,
  error,
  integer,
  bulk_string,
  null_bulk,
  array,
  null_array,
};

struct value {
  kind what = kind::null_bulk;
  std::string text;             // simple_string, error, bulk_string
  std::int64_t integer = 0;     // integer
  std::vector<value> elements;  // array

  static value simple(std::string s) { return {kind::simple_string, std::move(s), 0, {}}; }
  static value error(std::string message) { return {kind::error, std::move(message), 0, {}}; }
  static value number(std::int64_t n) { return {kind::integer, {}, n, {}}; }
  static value bulk(std::string bytes) { return {kind::bulk_string, std::move(bytes), 0, {}}; }
  static value null() { return {}; }
  static value array(std::vector<value> items) { return {kind::array, {}, 0, std::move(items)}; }
  static value null_array() { return {kind::null_array, {}, 0, {}}; }

  bool is_error() const noexcept { return what == kind::error; }
  bool is_null() const noexcept { return what == kind::null_bulk || what == kind::null_array; }
  // A simple or bulk string: the reply of GET, of PING, of a script returning a string.
  bool is_string() const noexcept { return what == kind::simple_string || what == kind::bulk_string; }

  bool operator==(const value&) const = default;
};

// A readable rendering in the manner of redis-cli, for logs and test
// messages: "OK", "(error) ERR ...", "(integer) 3", "\"a\\x00b\"", "(nil)",
// "[1, \"x\"]". Bytes outside printable ASCII are escaped; long strings are
// cut after `max_string` bytes.
std::string to_string(const value& v, std::size_t max_string = 200);

}  // namespace sigkit::resp
