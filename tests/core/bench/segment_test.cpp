#include "sigkit/bench/segment.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using sigkit::bench::parse_segment;
using sigkit::bench::segment;

namespace {

segment parsed(std::string_view text) {
  auto s = parse_segment(text);
  INFO("segment: " << text);
  if (!s) FAIL("unexpected error: " << s.error());
  return s.value();
}

std::vector<segment> segments_of(std::uint32_t n) {
  std::vector<segment> out;
  for (std::uint32_t i = 0; i < n; ++i) out.push_back(segment{i, n});
  return out;
}

}  // namespace

TEST_CASE("a segment parses as I/N", "[bench][segment]") {
  const segment first = parsed("0/1");
  CHECK(first.index == 0);
  CHECK(first.count == 1);
  CHECK(first.whole());

  const segment third = parsed("2/4");
  CHECK(third.index == 2);
  CHECK(third.count == 4);
  CHECK_FALSE(third.whole());
  CHECK(third.to_string() == "2/4");

  const segment last = parsed("99999/100000");
  CHECK(last.index == 99999);
  CHECK(last.count == 100000);

  CHECK(parsed("0/100000").count == 100000);
  CHECK(parsed("3/7").to_string() == "3/7");
}

TEST_CASE("a segment outside 0 <= I < N <= 100000 is an error that says what was expected", "[bench][segment]") {
  for (const char* text : {"4/4", "5/4", "0/0", "1/0", "-1/2", "1/-2", "a/b", "1/b", "a/2", "1/2/3", "", "/", "1/", "/2",
                           "1", "12", " 1/2", "1/2 ", "1 /2", "1/ 2", "+1/2", "1/+2", "0/100001", "100000/100000",
                           "0x1/2", "1.0/2", "1/2.0", "0/4294967297", "4294967296/4294967297"}) {
    auto s = parse_segment(text);
    INFO("segment: '" << text << "'");
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error(), Contains("I/N"));
    CHECK_THAT(s.error(), Contains("'" + std::string(text) + "'"));
  }
}

TEST_CASE("the whole plan is one segment that owns every room", "[bench][segment]") {
  const segment whole;
  CHECK(whole.whole());
  CHECK(whole.to_string() == "0/1");
  for (std::uint64_t room = 0; room < 20; ++room) {
    CHECK(whole.owns_room(room));
    CHECK(whole.plan_room(room) == room);
  }
  CHECK(whole.rooms_of(0) == 0);
  CHECK(whole.rooms_of(17) == 17);
  CHECK(whole.share_of(17) == 17);
}

TEST_CASE("rooms are dealt out like cards", "[bench][segment]") {
  // The header's picture: N = 3, room r to segment r % 3.
  const std::uint32_t expected_owner[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0};
  const auto three = segments_of(3);
  for (std::uint64_t room = 0; room < 10; ++room)
    for (const segment& s : three) {
      INFO("room " << room << " segment " << s.to_string());
      CHECK(s.owns_room(room) == (s.index == expected_owner[room]));
    }
  CHECK(three[0].rooms_of(10) == 4);
  CHECK(three[1].rooms_of(10) == 3);
  CHECK(three[2].rooms_of(10) == 3);
}

TEST_CASE("the segments' rooms add up to the plan's and each room is owned once", "[bench][segment]") {
  for (std::uint32_t n : {1u, 2u, 3u, 4u, 7u, 10u, 16u, 100u}) {
    for (std::uint64_t rooms : {0ull, 1ull, 2ull, 5ull, 9ull, 10ull, 99ull, 100ull, 101ull, 1000ull, 1001ull}) {
      INFO("N = " << n << ", rooms = " << rooms);
      const auto segments = segments_of(n);
      std::uint64_t total = 0;
      std::vector<int> owners(rooms, 0);
      for (const segment& s : segments) {
        const std::uint64_t mine = s.rooms_of(rooms);
        total += mine;
        // Its j-th room is the plan's plan_room(j): owned by it, in order,
        // and within the plan exactly when j < rooms_of().
        std::uint64_t previous = 0;
        for (std::uint64_t j = 0; j < mine; ++j) {
          const std::uint64_t r = s.plan_room(j);
          REQUIRE(r < rooms);
          CHECK(s.owns_room(r));
          if (j > 0) CHECK(r > previous);
          previous = r;
        }
        CHECK(s.plan_room(mine) >= rooms);
        for (std::uint64_t r = 0; r < rooms; ++r)
          if (s.owns_room(r)) ++owners[r];
      }
      CHECK(total == rooms);
      for (std::uint64_t r = 0; r < rooms; ++r) {
        INFO("room " << r);
        CHECK(owners[r] == 1);
      }
      // As evenly as whole rooms allow.
      for (const segment& s : segments) {
        CHECK(s.rooms_of(rooms) >= rooms / n);
        CHECK(s.rooms_of(rooms) <= rooms / n + 1);
      }
    }
  }
}

TEST_CASE("plan_room gives the segment's j-th owned room", "[bench][segment]") {
  const segment s = parsed("2/4");
  std::vector<std::uint64_t> owned;
  for (std::uint64_t r = 0; r < 40; ++r)
    if (s.owns_room(r)) owned.push_back(r);
  REQUIRE(owned.size() == 10);
  CHECK(owned.front() == 2);
  for (std::uint64_t j = 0; j < owned.size(); ++j) CHECK(s.plan_room(j) == owned[j]);
  // A segment with more members than rooms owns nothing of a small plan.
  CHECK(segment{5, 8}.rooms_of(5) == 0);
  CHECK(segment{5, 8}.rooms_of(6) == 1);
}

TEST_CASE("share_of spreads a total with the remainder on the first segments", "[bench][segment]") {
  const auto four = segments_of(4);
  CHECK(four[0].share_of(10) == 3);
  CHECK(four[1].share_of(10) == 3);
  CHECK(four[2].share_of(10) == 2);
  CHECK(four[3].share_of(10) == 2);
  CHECK(four[0].share_of(3) == 1);
  CHECK(four[3].share_of(3) == 0);
  for (std::uint32_t n : {1u, 2u, 3u, 5u, 8u, 13u, 100000u}) {
    for (std::uint64_t total : {0ull, 1ull, 2ull, 7ull, 64ull, 99ull, 1000ull, 123457ull}) {
      INFO("N = " << n << ", total = " << total);
      std::uint64_t sum = 0, smallest = ~0ull, largest = 0;
      std::uint64_t previous = ~0ull;
      bool larger_first = true;
      for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint64_t share = segment{i, n}.share_of(total);
        larger_first = larger_first && share <= previous;
        smallest = std::min(smallest, share);
        largest = std::max(largest, share);
        previous = share;
        sum += share;
      }
      CHECK(sum == total);
      CHECK(smallest == total / n);
      CHECK(largest == total / n + (total % n ? 1 : 0));
      CHECK(larger_first);
    }
  }
}
