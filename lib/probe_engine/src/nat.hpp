// Private to sigprobe's engine: RFC 5780 NAT behaviour discovery.
#pragma once

#include <vector>

#include "transport.hpp"
#include "sigkit/probe/probe.hpp"

namespace sigkit::probe_engine {

// Runs the RFC 5780 §4 tests against the first UDP server in `targets` and
// fills `out` (observations, classification, verdict) by `deadline`.
awaitable<void> discover_nat(const std::vector<target>& targets, const options& o, clock::time_point deadline,
                             nat_report& out);

}  // namespace sigkit::probe_engine
