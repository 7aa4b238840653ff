#include "sigkit/bench/segment.hpp"

#include <charconv>

namespace sigkit::bench {

std::uint64_t segment::rooms_of(std::uint64_t rooms) const noexcept {
  // Rooms index, index + N, index + 2N, ... below `rooms`.
  return rooms > index ? (rooms - index + count - 1) / count : 0;
}

std::uint64_t segment::share_of(std::uint64_t total) const noexcept {
  return total / count + (index < total % count ? 1 : 0);
}

std::string segment::to_string() const { return std::to_string(index) + "/" + std::to_string(count); }

result<segment, std::string> parse_segment(std::string_view text) {
  auto bad = [&] {
    return std::string("segment must be I/N with 0 <= I < N (e.g. 0/4 for the first of four), got '") +
           std::string(text) + "'";
  };
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  auto number = [](std::string_view s, std::uint32_t& out) {
    if (s.empty() || s.size() > 6) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
  };
  segment s;
  if (!number(text.substr(0, slash), s.index) || !number(text.substr(slash + 1), s.count)) return bad();
  if (s.count == 0 || s.count > 100000 || s.index >= s.count) return bad();
  return s;
}

}  // namespace sigkit::bench
