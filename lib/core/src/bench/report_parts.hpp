// What the report's writers (text, JSON, HTML) share.
#pragma once

#include <array>
#include <cstdio>
#include <string>

#include "sigkit/bench/report.hpp"

namespace sigkit::bench {

// relay_cross: relays between peers on different --url targets, only
// present when there were several.
inline constexpr std::array<const char*, 5> latency_names{"connect", "join", "relay", "relay_cross", "negotiation"};

inline std::string fixed(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

inline const metrics::latency_histogram* find_latency(const report& r, const std::string& name) {
  auto it = r.latency.find(name);
  return it == r.latency.end() ? nullptr : &it->second;
}

}  // namespace sigkit::bench
