// How a connection or a subscriber waits, retries and bounds what it holds.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "sigkit/resp/reader.hpp"

namespace sigkit::redis {

struct options {
  // Resolving the name, TCP, and the handshake (AUTH, SELECT, CLIENT
  // SETNAME, a subscriber's SUBSCRIBEs, a PING), all within this.
  std::chrono::milliseconds connect_timeout{2000};
  // From the call to the reply, for every command and ping. One that
  // expires fails with errc::timeout and drops the connection: replies come
  // in order, so a late one could no longer be matched to its command.
  std::chrono::milliseconds command_timeout{1000};
  // After any failure (refused, timed out, closed, a protocol error), the
  // next attempt waits a random time between half and all of
  // initial * 2^attempt, at most `backoff_max` (so instances that lost Redis
  // together do not come back together).
  std::chrono::milliseconds backoff_initial{50};
  std::chrono::milliseconds backoff_max{2000};
  // A PING when nothing has been received for this long and nothing is
  // awaited, so that a dead link is found within idle_ping + command_timeout
  // even when idle; 0: never.
  std::chrono::milliseconds idle_ping{1000};
  // Commands sent and not yet answered; more fail with errc::backlog_full.
  std::size_t max_in_flight = 100'000;
  // What a reply may hold; a reply over these is a protocol error.
  resp::limits reply_limits{std::size_t{64} << 20, std::size_t{1} << 20, 16, std::size_t{64} << 10};
  // CLIENT SETNAME on every connect when not empty (CLIENT LIST shows it).
  std::string client_name;
  // For rediss://: the CA certificates (PEM) the server's certificate must
  // chain to, empty for the system's store; and, for a server that asks
  // clients for one (tls-auth-clients), this client's certificate chain and
  // key (PEM).
  struct tls_files {
    std::string ca_file, cert_file, key_file;
  } tls;
};

// What happened to a connection so far, for metrics.
struct counters {
  std::uint64_t connects = 0;         // handshakes completed: the first connect and every reconnect
  std::uint64_t disconnects = 0;      // connections lost after their handshake
  std::uint64_t failed_attempts = 0;  // attempts that never completed their handshake
  std::uint64_t timeouts = 0;         // commands and pings that got no reply in time
};

}  // namespace sigkit::redis
