#include "sigkit/duration.hpp"

#include <charconv>
#include <cmath>
#include <string>

namespace sigkit {

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text,
                                                       std::chrono::nanoseconds bare_unit) {
  using namespace std::chrono;
  double value = 0;
  // from_chars for double is in GCC 12's libstdc++; it rejects leading '+'
  // and whitespace, which is what a strict flag parser wants.
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) return std::nullopt;
  std::string_view unit(end, text.data() + text.size() - end);
  double scale;
  if (unit.empty()) scale = static_cast<double>(bare_unit.count());
  else if (unit == "ns") scale = 1;
  else if (unit == "us" || unit == "\xC2\xB5s") scale = 1e3;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "s") scale = 1e9;
  else if (unit == "m" || unit == "min") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else return std::nullopt;
  double ns = value * scale;
  if (ns > 9.2e18) return std::nullopt;
  return nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
}

}  // namespace sigkit
