// What every event loop of one server shares: the settings, the hub, the
// limits that span loops, and the other loops (to hand them frames).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "hub.hpp"
#include "sigkit/http/origin_policy.hpp"
#include "sigkit/log.hpp"
#include "sigkit/rate_limit.hpp"
#include "sigkit/server/options.hpp"
#include "static_files.hpp"
#include "tls.hpp"

namespace sigkit::server {

class event_loop;

struct server_state {
  server_state(const options& o, logger& l);

  const options opts;
  logger& log;
  const http::origin_policy origins;
  const rate_policy rate;
  std::unique_ptr<hub> rooms;
  static_files files;
  std::shared_ptr<const tls_context> tls;  // as loaded at start; loops keep their own copy
  std::vector<std::unique_ptr<event_loop>> loops;

  // Limits that span loops. The counters move only on upgrade and close, and
  // when a backlog forms or drains: never per message. (Each loop keeps its
  // own share of --max-http-connections.)
  std::atomic<std::size_t> websockets{0};        // admitted upgrades, bounded by max_connections
  std::atomic<std::size_t> queued_bytes{0};      // in every backlog, bounded by max_queued_bytes

  std::atomic<bool> draining{false};  // SIGTERM seen: /readyz says 503
  std::atomic<bool> closing{false};   // the drain delay is over: no new upgrades

  const std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
};

}  // namespace sigkit::server
