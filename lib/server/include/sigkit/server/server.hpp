// sigserve's engine: an HTTP + WebSocket server speaking protocol v1, with the
// demo page, health, readiness and metrics endpoints. One event loop per
// thread; rooms in a sharded in-process hub. Asio and Beast stay behind this
// header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sigkit/log.hpp"
#include "sigkit/server/options.hpp"

namespace sigkit::server {

class signaling_server {
 public:
  // Binds and listens; throws std::system_error when the address is unusable.
  signaling_server(options opts, logger& log);
  ~signaling_server();
  signaling_server(const signaling_server&) = delete;
  signaling_server& operator=(const signaling_server&) = delete;

  std::uint16_t port() const noexcept;  // the bound port (useful with port 0)
  const std::vector<std::string>& addresses() const noexcept;  // what --listen resolved to

  // Serves on options::threads threads (the caller's included) until stop()
  // or, when handle_signals, SIGINT/SIGTERM. Then /readyz answers 503 at
  // once; after options::drain_delay every WebSocket is closed with 1001 and
  // given options::drain_timeout to finish; then run() returns.
  void run(bool handle_signals);

  // Begins that graceful stop; safe from any thread.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::server
