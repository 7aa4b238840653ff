#include "sigkit/resp/writer.hpp"

#include <charconv>
#include <cstdint>

namespace sigkit::resp {

namespace {

void append_number(std::string& out, std::int64_t n) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, end);
}

void append_header(std::string& out, char type, std::size_t n) {
  out.push_back(type);
  append_number(out, static_cast<std::int64_t>(n));
  out.append("\r\n");
}

template <class Strings>
void append_strings(std::string& out, const Strings& args) {
  std::size_t bytes = 16;
  for (const auto& a : args) bytes += a.size() + 16;
  out.reserve(out.size() + bytes);
  append_header(out, '*', args.size());
  for (const auto& a : args) {
    append_header(out, '$', a.size());
    out.append(a.data(), a.size());
    out.append("\r\n");
  }
}

void append_line(std::string& out, char type, std::string_view text) {
  out.push_back(type);
  const std::size_t at = out.size();
  out.append(text);
  for (std::size_t i = at; i < out.size(); ++i)
    if (out[i] == '\r' || out[i] == '\n') out[i] = ' ';
  out.append("\r\n");
}

}  // namespace

void append_command(std::string& out, std::span<const std::string_view> args) { append_strings(out, args); }
void append_command(std::string& out, std::span<const std::string> args) { append_strings(out, args); }

std::string encode_command(std::span<const std::string_view> args) {
  std::string out;
  append_strings(out, args);
  return out;
}

std::string encode_command(std::span<const std::string> args) {
  std::string out;
  append_strings(out, args);
  return out;
}

void append(std::string& out, const value& v) {
  switch (v.what) {
    case kind::simple_string: append_line(out, '+', v.text); break;
    case kind::error: append_line(out, '-', v.text); break;
    case kind::integer:
      out.push_back(':');
      append_number(out, v.integer);
      out.append("\r\n");
      break;
    case kind::bulk_string:
      append_header(out, '$', v.text.size());
      out.append(v.text);
      out.append("\r\n");
      break;
    case kind::null_bulk: out.append("$-1\r\n"); break;
    case kind::array:
      append_header(out, '*', v.elements.size());
      for (const auto& e : v.elements) append(out, e);
      break;
    case kind::null_array: out.append("*-1\r\n"); break;
  }
}

std::string encode(const value& v) {
  std::string out;
  append(out, v);
  return out;
}

}  // namespace sigkit::resp
