// Everything sigserve can be told, with the defaults a first run gets. Every
// limit here has a command-line flag (tools/sigserve) and a sane default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sigkit/proto/ice_servers.hpp"

namespace sigkit::server {

struct options {
  // --- where ---------------------------------------------------------------
  std::string listen_address = "127.0.0.1";  // an IP address or a name (localhost); every address it resolves to
  std::uint16_t port = 8080;                  // 0 picks a free port
  unsigned threads = 1;                       // event loops, one per thread

  // --- TLS: with both set, the listener speaks HTTPS and wss:// only -----------
  std::string tls_cert;  // PEM certificate chain, the server's first
  std::string tls_key;   // PEM private key; SIGHUP reloads both

  // --- several instances -------------------------------------------------------
  // redis[s]://[[user]:password@]host[:port][/db]: rooms shared with every
  // instance that uses the same Redis; empty: this instance alone.
  std::string redis_url;
  // rediss://: the CA file (PEM) Redis' certificate must chain to (empty:
  // the system's store), and this instance's certificate and key for a
  // Redis that asks for one (tls-auth-clients).
  std::string redis_ca_file, redis_cert, redis_key;

  // --- the protocol ----------------------------------------------------------
  std::size_t room_capacity = 2;                    // members per room, 0 = unlimited
  std::size_t room_history = 0;                     // broadcast messages a room keeps for joiners, 0 = none
  std::chrono::milliseconds room_history_ttl{600'000};  // with --redis: kept this long after the room empties
  std::size_t max_message_bytes = 64 * 1024;        // larger messages close with 1009
  std::chrono::milliseconds ping_interval{25'000};  // WebSocket pings; 0 sends none (the timeout still holds)
  std::chrono::milliseconds ping_timeout{60'000};   // silence before a connection is dropped
  double rate_limit = 100;                          // messages/s per connection, 0 = off
  double rate_burst = 200;                          // messages a connection may send at once

  // --- what a connection may hold ---------------------------------------------
  std::chrono::milliseconds handshake_timeout{10'000};  // a whole HTTP request, the upgrade, the close handshake
  std::chrono::milliseconds write_timeout{10'000};      // a send queue that has not moved this long: close (1008)
  std::size_t max_connections = 10'000;                 // open WebSockets; beyond, upgrades get HTTP 503
  std::size_t max_http_connections = 1'024;             // connections not (yet) upgraded; beyond, the oldest is dropped
  std::size_t max_send_queue_bytes = 256 * 1024;        // unsent bytes per connection; beyond: close (1008)
  std::size_t max_queued_bytes = std::size_t{256} << 20;  // unsent bytes of all connections together

  // --- who may connect ------------------------------------------------------------
  std::vector<std::string> allowed_origins;  // see http::origin_policy
  std::size_t max_connections_per_ip = 0;     // WebSockets per client address, 0 = off; beyond: HTTP 429
  double connection_rate_per_ip = 0;          // new WebSockets per second per address, 0 = off
  double connection_burst_per_ip = 10;        // ... and how many at once
  std::vector<std::string> trusted_proxies;   // CIDR blocks whose X-Forwarded-For names the client
  double join_rate = 5;                       // joins per second per connection; beyond: rate-limited
  double join_burst = 10;

  // --- tokens: with any key set, every upgrade needs a valid JWT --------------------
  std::string auth_hs256_secret;       // HS256 shared secret (32 bytes at least)
  std::string auth_public_key_file;    // PEM public key: RS256 (RSA) or ES256 (P-256)
  std::string auth_jwks_file;          // a JWK Set; keys chosen by `kid`
  std::string auth_issuer;             // when set, `iss` must match
  std::string auth_audience;           // when set, `aud` must contain it
  std::chrono::seconds auth_leeway{0};  // clock skew allowed for exp, nbf, iat (decisions.md: 0)

  // --- what every client is told --------------------------------------------------
  proto::ice_config ice;  // STUN/TURN servers for welcome.ice_servers, TURN credentials minted per connection

  // --- HTTP ---------------------------------------------------------------------
  std::optional<std::filesystem::path> static_dir;  // replaces the built-in page
  std::size_t static_max_bytes = std::size_t{16} << 20;  // larger files are not served (413)
  std::string demo_page;                                 // HTML served at / and /<room>
  std::string server_name = "sigserve";                  // Server header and welcome.server
  std::string version = "0.0.0";                         // sigserve_build_info

  // --- stopping --------------------------------------------------------------------
  std::chrono::milliseconds drain_delay{0};        // after SIGTERM: /readyz says 503, serving goes on this long
  std::chrono::milliseconds drain_timeout{1'500};  // then every WebSocket gets 1001 and this long to close
};

}  // namespace sigkit::server
