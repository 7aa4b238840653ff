// A Redis connection in the subscribed state (RESP2 publish/subscribe), on
// the caller's io_context, with the threading, handshake, timeouts and
// reconnection of redis::connection (see connection.hpp).
//
// The set of channels is kept across connections: every reconnect
// subscribes to all of them again, and on_state(true) comes once Redis has
// confirmed every one. A connection that Redis closes (CLIENT KILL, a
// restart) is seen at once; one that dies without a word is found by the
// idle PING (options::idle_ping) or by the caller's ping(). What no PING can
// find is a subscription the server has silently forgotten while the
// connection lives: for that, publish to a channel of your own through a
// redis::connection from time to time and expect to receive it.
//
// Destroying the subscriber closes it; no callback runs after that.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/error.hpp"
#include "sigkit/redis/options.hpp"

namespace boost::asio {
class io_context;
}

namespace sigkit::redis {

class subscriber {
 public:
  using message_handler = std::function<void(std::string_view channel, std::string payload)>;
  using done_handler = std::function<void(std::error_code)>;

  subscriber(boost::asio::io_context& io, endpoint where, options opts = {});
  ~subscriber();
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  void start();
  void on_message(message_handler handler);
  // true once connected and subscribed to every channel; false when lost.
  void on_state(std::function<void(bool connected)> handler);
  bool connected() const noexcept;
  const std::string& last_error() const noexcept;
  const counters& stats() const noexcept;

  // Adds a channel to the set (for good: every reconnect subscribes again).
  // `done`, if given, says whether it is subscribed now: no error once Redis
  // confirmed it, errc::unavailable when not connected (the channel will be
  // subscribed on connect), or the error that dropped the connection first.
  void subscribe(std::string channel, done_handler done = {});
  // Removes a channel; its messages are no longer delivered from now on.
  void unsubscribe(const std::string& channel);

  // PING on the subscribed connection (RESP2 allows it there), within
  // options::command_timeout: no error when Redis answered. A ping that times
  // out drops the connection, which reconnects and subscribes again.
  void ping(done_handler done);

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sigkit::redis
