// The wait before reconnect attempt `attempt` (0 for the first after a
// failure): exponential from `initial`, capped at `max`, with "equal
// jitter" (a random point in the upper half of the step), so that clients
// that lost a server at the same moment do not all return at the same one.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace sigkit::redis::detail {

template <class Random>
std::chrono::milliseconds backoff_delay(unsigned attempt, std::chrono::milliseconds initial,
                                        std::chrono::milliseconds max, Random& random) {
  const auto step = initial.count() << std::min(attempt, 20u);
  const auto ceiling = std::max<std::chrono::milliseconds::rep>(1, std::min(step, max.count()));
  std::uniform_int_distribution<std::chrono::milliseconds::rep> pick(ceiling / 2, ceiling);
  return std::chrono::milliseconds(pick(random));
}

}  // namespace sigkit::redis::detail
