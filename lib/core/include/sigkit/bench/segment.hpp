// Execution segments: one plan run by N sigbench processes, each taking its
// slice (`--segment I/N`, I counted from 0 as a Kubernetes Indexed Job counts
// its completions), in the manner of k6's execution segments. Pure.
//
// The unit of slicing is the room, never the peer: a room's members must all
// be on the machine that checks the room's relays. Rooms are dealt out like
// cards, room r to segment r % N, so that every segment's arrivals are spread
// over the whole run at 1/N of the plan's rate instead of segment 0 taking the
// first N-th of the run at the full rate:
//
//   room      0  1  2  3  4  5  6  7  8  9
//   segment   0  1  2  0  1  2  0  1  2  0        (N = 3)
//
// Together the N segments start exactly the plan's peers at exactly the
// plan's intended times; each peer and room keeps the number it has in the
// whole plan (and so its room name), so the segments' reports describe one
// run and merge into it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::bench {

struct segment {
  std::uint32_t index = 0;  // I, 0 <= I < N
  std::uint32_t count = 1;  // N; 1 is the whole plan

  bool whole() const noexcept { return count == 1; }
  // Whether the plan's room r belongs to this segment.
  bool owns_room(std::uint64_t room) const noexcept { return room % count == index; }
  // Of `rooms` rooms in the plan, how many are this segment's.
  std::uint64_t rooms_of(std::uint64_t rooms) const noexcept;
  // The plan's number of this segment's j-th room (j from 0).
  std::uint64_t plan_room(std::uint64_t j) const noexcept { return j * count + index; }
  // This segment's share of a quantity spread over the segments as evenly as
  // whole units allow (the first total % N segments get one more), e.g. the
  // rooms that a closed model keeps in flight.
  std::uint64_t share_of(std::uint64_t total) const noexcept;
  std::string to_string() const;  // "I/N"
};

// "2/4" -> {2, 4}. N from 1 to 100000, I from 0 to N - 1; anything else is an
// error that says what was expected.
result<segment, std::string> parse_segment(std::string_view text);

}  // namespace sigkit::bench
