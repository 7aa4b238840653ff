// sigserve's engine: an HTTP + WebSocket server speaking protocol v1, with the
// demo page, health and metrics endpoints. Beast stays behind this header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/log.hpp"

namespace sigkit::server {

struct options {
  std::string listen_address = "127.0.0.1";
  std::uint16_t port = 8080;                       // 0 picks a free port
  std::size_t room_capacity = 2;                    // 0 = unlimited
  std::size_t max_message_bytes = 64 * 1024;        // larger frames close with 1009
  std::chrono::milliseconds ping_interval{25'000};  // WebSocket ping cadence
  std::chrono::milliseconds ping_timeout{60'000};   // silence before the connection is dropped
  std::chrono::milliseconds handshake_timeout{10'000};
  std::size_t max_connections = 10'000;            // beyond: HTTP 503 on upgrade
  std::size_t max_send_queue_bytes = 1024 * 1024;  // beyond: close 1008
  double rate_limit = 100;                         // messages/s per connection, 0 = off
  double rate_burst = 200;
  std::vector<std::string> allowed_origins;        // see origin_policy
  std::optional<std::filesystem::path> static_dir; // replaces the built-in page
  std::string demo_page;                           // HTML served at / and /<room>
  std::string server_name = "sigserve/0.1.0";
  std::chrono::milliseconds drain_timeout{1'500};  // shutdown grace for close handshakes
};

class signaling_server {
 public:
  // Binds and listens; throws std::system_error when the address is unusable.
  signaling_server(options opts, logger& log);
  ~signaling_server();
  signaling_server(const signaling_server&) = delete;
  signaling_server& operator=(const signaling_server&) = delete;

  std::uint16_t port() const noexcept;  // the bound port (useful with port 0)

  // Serves on `threads` threads (the caller's included) until stop() or, when
  // handle_signals, SIGINT/SIGTERM; then closes every connection with 1001.
  void run(unsigned threads, bool handle_signals);

  // Begins a graceful stop; safe from any thread.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::server
