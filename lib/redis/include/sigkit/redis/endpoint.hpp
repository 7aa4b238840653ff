// Where a Redis server is and how to log in to it, from a URL:
//
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]
//   rediss://...   the same over TLS
//
// PORT defaults to 6379 and DB to 0. USER and PASSWORD are percent-decoded
// (a password holding '@', ':' or '/' is written %40, %3A, %2F); an IPv6
// address is written in brackets, redis://[::1]:6379. USER needs Redis 6's
// ACLs; without it, AUTH logs in as the default user. Over TLS the server's
// certificate must name HOST (a DNS name, or the address itself).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sigkit/result.hpp"

namespace sigkit::redis {

struct endpoint {
  std::string host;  // a name or an address (IPv6 without its brackets)
  std::uint16_t port = 6379;
  std::string user;      // empty: AUTH PASSWORD, as the default user
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed on every connect when not 0
  bool tls = false;      // rediss://

  // redis[s]://HOST:PORT/DB, without the credentials: for logs.
  std::string to_string() const;
};

// The error is one line for a command-line tool to print.
result<endpoint, std::string> parse_url(std::string_view url);

}  // namespace sigkit::redis
