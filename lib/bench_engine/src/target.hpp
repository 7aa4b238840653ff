// Where the simulated peers connect, worked out once per run: the server's
// address (resolved once, within the connect timeout, instead of once per
// peer) and the local addresses to connect from.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <sys/socket.h>

#include "sigkit/client/client.hpp"
#include "sigkit/result.hpp"

namespace sigkit::bench_engine {

struct endpoint {
  sockaddr_storage address{};
  socklen_t length = 0;
  int family() const noexcept { return address.ss_family; }
};

// The host's first address (of `family` when not AF_UNSPEC), or why there is
// none: "cannot resolve HOST: <reason>", or that resolving took longer than
// `timeout` (the lookup is abandoned then, not waited for).
result<endpoint, std::string> resolve_once(const std::string& host, const std::string& port, int family,
                                           std::chrono::nanoseconds timeout);

// One server of the run (--url, of which there may be several instances).
struct target {
  client::ws_url url;
  endpoint server;
  std::string host_header;  // Host: of the upgrade
};

// A numeric local address to bind before connecting (port chosen at connect).
result<endpoint, std::string> local_address(const std::string& address);

}  // namespace sigkit::bench_engine
