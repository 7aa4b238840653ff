#include "sigkit/timer_wheel.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <vector>

using sigkit::timer_wheel;

namespace {

struct timed {
  int id = 0;
  timer_wheel::entry node;
};

timed& owner(timer_wheel::entry& e, std::vector<timed>& all) {
  for (auto& t : all)
    if (&t.node == &e) return t;
  FAIL("entry of no known owner");
  return all.front();
}

}  // namespace

TEST_CASE("timer wheel fires each entry once, at its tick", "[timer_wheel]") {
  timer_wheel wheel(8);
  std::vector<timed> all(4);
  for (int i = 0; i < 4; ++i) all[i].id = i;
  wheel.schedule(all[0].node, 3);
  wheel.schedule(all[1].node, 3);
  wheel.schedule(all[2].node, 5);
  wheel.schedule(all[3].node, 8 + 3);  // same slot as tick 3, one revolution later

  std::map<timer_wheel::tick, std::vector<int>> fired;
  for (timer_wheel::tick t = 1; t <= 12; ++t)
    wheel.advance(t, [&](timer_wheel::entry& e) { fired[t].push_back(owner(e, all).id); });
  CHECK(fired.size() == 3);
  CHECK(fired[3].size() == 2);
  CHECK(fired[5] == std::vector<int>{2});
  CHECK(fired[11] == std::vector<int>{3});
  for (auto& t : all) CHECK_FALSE(t.node.scheduled());
}

TEST_CASE("timer wheel: a jump of many revolutions fires everything due, nothing early", "[timer_wheel]") {
  timer_wheel wheel(16);
  std::vector<timed> all(100);
  for (int i = 0; i < 100; ++i) {
    all[i].id = i;
    wheel.schedule(all[i].node, static_cast<timer_wheel::tick>(1 + i * 7));  // up to 694
  }
  std::vector<int> fired;
  wheel.advance(350, [&](timer_wheel::entry& e) { fired.push_back(owner(e, all).id); });
  CHECK(fired.size() == 50);  // ticks 1..344 (i = 0..49)
  for (int id : fired) CHECK(1 + id * 7 <= 350);
  fired.clear();
  wheel.advance(10'000, [&](timer_wheel::entry& e) { fired.push_back(owner(e, all).id); });
  CHECK(fired.size() == 50);
  CHECK(wheel.now() == 10'000);
}

TEST_CASE("timer wheel: a deadline in the past fires at the next advance", "[timer_wheel]") {
  timer_wheel wheel(8, 100);
  timed t;
  wheel.schedule(t.node, 50);
  int fired = 0;
  wheel.advance(101, [&](timer_wheel::entry&) { ++fired; });
  CHECK(fired == 1);
}

TEST_CASE("timer wheel: re-scheduling moves, cancelling and destroying unlink", "[timer_wheel]") {
  timer_wheel wheel(8);
  timed a, b;
  wheel.schedule(a.node, 2);
  wheel.schedule(a.node, 6);  // moved, not duplicated
  wheel.schedule(b.node, 4);
  wheel.cancel(b.node);
  {
    timed c;
    wheel.schedule(c.node, 5);
  }  // c unlinks itself
  std::vector<timer_wheel::tick> when;
  for (timer_wheel::tick t = 1; t <= 10; ++t) wheel.advance(t, [&](timer_wheel::entry&) { when.push_back(t); });
  CHECK(when == std::vector<timer_wheel::tick>{6});
}

TEST_CASE("timer wheel: a callback may re-schedule its entry, even into the slot being visited", "[timer_wheel]") {
  timer_wheel wheel(4);
  timed t;
  wheel.schedule(t.node, 1);
  std::vector<timer_wheel::tick> when;
  for (timer_wheel::tick now = 1; now <= 20; ++now)
    wheel.advance(now, [&](timer_wheel::entry& e) {
      when.push_back(now);
      wheel.schedule(e, now + 4);  // same slot, next revolution
    });
  CHECK(when == std::vector<timer_wheel::tick>{1, 5, 9, 13, 17});
}
