// What every event loop of one server shares: the settings, the hub, the
// limits that span loops, and the other loops (to hand them frames).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "address_limits.hpp"
#include "hub.hpp"
#include "sigkit/auth/jwt.hpp"
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
  // A connection that keeps sending past the rate limit is closed: it may be
  // refused half the rate for as long as it likes, and four bursts' worth
  // beyond that (a client sending twice its allowance goes in ~16 s at the
  // defaults, one sending ten times in under a second).
  const rate_policy strikes;
  const rate_policy joins;
  std::vector<http::cidr> trusted_proxies;
  std::optional<auth::key_set> token_keys;  // set: every upgrade needs a token
  auth::verify_options token_rules;
  address_limits addresses;
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

  // A millisecond count shared by every loop (the address limits span them).
  static std::uint32_t now_ms() noexcept {
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch()).count());
  }
};

}  // namespace sigkit::server
