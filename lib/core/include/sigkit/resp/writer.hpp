// RESP2, the writing half. A client sends every command as an array of bulk
// strings, so any byte may appear in any argument:
//
//   SET k "a\r\nb"  ->  *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n
//
// encode() writes any value (a test server's replies, the fuzzer's round
// trips); the encoding is canonical, so it gives back exactly the bytes the
// reader accepted for the value.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "sigkit/resp/value.hpp"

namespace sigkit::resp {

// Appends one command to `out` (a pipeline is several in one buffer).
void append_command(std::string& out, std::span<const std::string_view> args);
void append_command(std::string& out, std::span<const std::string> args);

std::string encode_command(std::span<const std::string_view> args);
std::string encode_command(std::span<const std::string> args);

// A simple string or error that holds CR or LF cannot be written as one
// (RESP2 has no escape); they are written with each CR and LF as a space.
void append(std::string& out, const value& v);
std::string encode(const value& v);

}  // namespace sigkit::resp
