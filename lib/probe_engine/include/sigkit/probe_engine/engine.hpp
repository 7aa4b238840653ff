// sigprobe's engine: runs the ladder of stages described in
// sigkit/probe/probe.hpp against real servers, over UDP, TCP and TLS, and
// fetches the list of servers from a signaling server's welcome when asked.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/probe/probe.hpp"
#include "sigkit/probe/targets.hpp"

namespace sigkit::probe_engine {

// --from-sigserve: a signaling server whose welcome (protocol 1.1) lists the
// ICE servers its clients get, with TURN credentials minted for the
// connection.
struct signaling_source {
  std::string url_;     // ws://host[:port][/path]
  std::string origin_;  // sent as Origin when not empty
  probe::credential_options credentials_;  // for entries without credentials of their own
};

// Why `url` cannot be a signaling source, in one line (a usage error), or
// nullopt: it must be ws://host[:port][/path].
std::optional<std::string> signaling_url_problem(std::string_view url);

// Probes every target concurrently (and the NAT if asked) and returns when
// all are done or options::timeout_ has passed. With `signaling`, the
// servers its welcome lists are probed too, after `targets` (which start at
// once); the same deadline covers the fetch, and --nat picks its server once
// the list is complete. Blocking; runs its own io_context on the calling
// thread. Never throws for network trouble: that is what the report is for.
probe::report run(const std::vector<probe::target>& targets, const probe::options& o,
                  const std::optional<signaling_source>& signaling = std::nullopt);

}  // namespace sigkit::probe_engine
