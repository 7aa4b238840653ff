// A Redis connection for commands, on the caller's io_context: every
// handler and callback runs on the thread that runs it, never inside the
// call that started the operation, and the connection starts no thread of
// its own and never blocks (names are resolved asynchronously).
//
//   sigkit::redis::connection redis(io, sigkit::redis::parse_url(url).value());
//   redis.on_state([](bool up) { ... });
//   redis.start();
//   ...once up:
//   redis.command({"INCR", "n"}, [](std::error_code ec, sigkit::resp::value reply) { ... });
//
// Commands are pipelined: each is written as soon as it is given (those given
// while a write is in progress go out together in the next one), and the
// replies, which Redis sends in order, are matched first in, first out.
//
// Connecting resolves the name, connects and sends AUTH, SELECT and CLIENT
// SETNAME as the endpoint and options ask, with a PING, before anything else,
// all within options::connect_timeout. After any failure the connection waits
// (exponential backoff with jitter, options::backoff_*) and tries again, for
// as long as it lives.
//
// There is no queue for a connection that is down: while it is not connected
// (before the first connect, and between losing one and the next), commands
// fail at once with errc::unavailable. The caller decides what to retry. When
// an established connection is lost, the commands awaiting replies fail with
// errc::connection_lost (or errc::timeout, for the one whose deadline passed).
//
// Destroying the connection closes it; handlers of commands in flight are
// dropped without being called (it may be destroyed from inside one of them).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/error.hpp"
#include "sigkit/redis/options.hpp"
#include "sigkit/redis/script.hpp"
#include "sigkit/resp/value.hpp"

namespace boost::asio {
class io_context;
}

namespace sigkit::redis {

// No error and the reply; errc::server_error and the error reply; or another
// errc and a null value. Handlers must not throw.
using reply_handler = std::function<void(std::error_code, resp::value)>;

class connection {
 public:
  connection(boost::asio::io_context& io, endpoint where, options opts = {});
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Begins connecting (once; later calls do nothing).
  void start();
  // Called with true when a handshake completes, with false when an
  // established connection is lost (not for each failed attempt).
  void on_state(std::function<void(bool connected)> handler);
  bool connected() const noexcept;
  // Why the last attempt or connection failed, for logs ("connect to
  // 127.0.0.1:6379: Connection refused"); empty if nothing failed yet.
  const std::string& last_error() const noexcept;
  const counters& stats() const noexcept;

  // One command, its arguments binary-safe: {"SET", key, value}.
  void command(std::vector<std::string> args, reply_handler handler);

  // EVALSHA, and on NOSCRIPT (the server's script cache is empty after a
  // restart or SCRIPT FLUSH) SCRIPT LOAD and EVALSHA once more, pipelined:
  // the handler sees the second reply (or SCRIPT LOAD's error, if the script
  // does not compile). A script is not run twice: NOSCRIPT means it did not run.
  void eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args, reply_handler handler);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sigkit::redis
