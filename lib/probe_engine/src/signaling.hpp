// Private to sigprobe's engine: --from-sigserve, the WebSocket connection to
// a signaling server that yields its welcome and so the ICE servers to probe.
#pragma once

#include <string>
#include <vector>

#include "transport.hpp"
#include "sigkit/probe/probe.hpp"
#include "sigkit/probe_engine/engine.hpp"

namespace sigkit::probe_engine {

struct fetched_ice_servers {
  signaling_report report_;     // the signaling stage, hint included when it failed
  std::vector<target> targets_;  // the welcome's ICE servers, when it passed
};

// Connects to the signaling server, upgrades to WebSocket (sending Origin
// and `user_agent`), reads the first message, which must be a welcome, and
// closes; then reads the welcome's ice_servers into targets (pure:
// probe::read_welcome). Everything by `deadline`.
awaitable<fetched_ice_servers> fetch_ice_servers(const signaling_source& source, const std::string& user_agent,
                                                 clock::time_point deadline);

}  // namespace sigkit::probe_engine
