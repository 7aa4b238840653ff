#include "sigkit/resp/value.hpp"

#include <algorithm>
#include <string>

namespace sigkit::resp {

namespace {

void append_escaped(std::string& out, std::string_view s, std::size_t max) {
  static constexpr char hex[] = "0123456789abcdef";
  const std::size_t shown = std::min(s.size(), max);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out.push_back(static_cast<char>(c));
        } else {
          out.append("\\x");
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        }
    }
  }
  if (shown < s.size()) out.append("...(" + std::to_string(s.size()) + " bytes)");
}

void render(std::string& out, const value& v, std::size_t max) {
  switch (v.what) {
    case kind::simple_string: append_escaped(out, v.text, max); break;
    case kind::error:
      out.append("(error) ");
      append_escaped(out, v.text, max);
      break;
    case kind::integer: out.append("(integer) " + std::to_string(v.integer)); break;
    case kind::bulk_string:
      out.push_back('"');
      append_escaped(out, v.text, max);
      out.push_back('"');
      break;
    case kind::null_bulk: out.append("(nil)"); break;
    case kind::array:
      out.push_back('[');
      for (std::size_t i = 0; i < v.elements.size(); ++i) {
        if (i != 0) out.append(", ");
        render(out, v.elements[i], max);
      }
      out.push_back(']');
      break;
    case kind::null_array: out.append("(nil array)"); break;
  }
}

}  // namespace

std::string to_string(const value& v, std::size_t max_string) {
  std::string out;
  render(out, v, max_string);
  return out;
}

}  // namespace sigkit::resp
