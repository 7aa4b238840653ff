// sigprobe's engine: runs the ladder of stages described in
// sigkit/probe/probe.hpp against real servers, over UDP, TCP and TLS.
#pragma once

#include <vector>

#include "sigkit/probe/probe.hpp"

namespace sigkit::probe_engine {

// Probes every target concurrently (and the NAT if asked) and returns when
// all are done or options::timeout_ has passed. Blocking; runs its own
// io_context on the calling thread. Never throws for network trouble: that
// is what the report is for.
probe::report run(const std::vector<probe::target>& targets, const probe::options& o);

}  // namespace sigkit::probe_engine
