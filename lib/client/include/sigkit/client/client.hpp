// A protocol v1 client over WebSocket: connect (until `welcome`), send, and
// receive typed server messages. `connection` is the asynchronous one (C++20
// coroutines on any Asio executor, so thousands can share a thread);
// `blocking_connection` wraps it with its own event loop for scripts and tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "sigkit/result.hpp"

namespace sigkit::client {

// Failures of the client's own making, beside the transport's error codes.
enum class errc {
  bad_url = 1,        // not ws://host[:port][/path]
  no_welcome,         // the first message was not a valid `welcome`
  malformed_message,  // the server sent something that is not a JSON object with a type
  timeout,            // nothing arrived in time (blocking_connection)
};
const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

struct ws_url {
  std::string host;
  std::string port;
  std::string path;
};
result<ws_url, std::string> parse_ws_url(std::string_view url);

enum class message_kind { welcome, joined, peer_joined, left, peer_left, pong, error, relay, other };

// One message from the server, with the members tools need most read out.
struct server_message {
  message_kind kind = message_kind::other;
  std::string type;               // wire type; for relays offer/answer/candidate/bye/message
  std::string peer;               // welcome, joined, peer-joined, peer-left
  std::string room;               // joined, left, peer-joined, peer-left
  std::string from;               // relays
  std::vector<std::string> peers; // joined
  std::string code;               // error
  std::string text;               // error's human-readable message
  nlohmann::json body;            // the whole object, for everything else

  static result<server_message, std::error_code> parse(std::string_view frame);
};

struct welcome_info {
  std::string peer;
  int protocol = 0;
  std::string server;
  std::chrono::milliseconds ping_interval{0};
  std::chrono::milliseconds ping_timeout{0};
};

struct connect_options {
  std::string origin;                             // sent as Origin when not empty
  std::string source_address;                     // local address to bind, e.g. 127.0.0.2
  std::chrono::milliseconds timeout{10'000};      // TCP connect + handshake + welcome
  std::size_t max_message_bytes = 16 * 1024 * 1024;
};

class connection {
 public:
  explicit connection(boost::asio::any_io_executor executor);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  boost::asio::awaitable<std::error_code> connect(std::string url, connect_options options = {});
  const welcome_info& welcome() const noexcept;
  // The HTTP status of a refused upgrade (403 origin, 503 full...), else 0.
  unsigned refusal_status() const noexcept;

  // One send at a time; a send may run while a receive is pending.
  boost::asio::awaitable<std::error_code> send_text(std::string frame);  // raw, as given
  boost::asio::awaitable<std::error_code> send(const nlohmann::json& message);
  boost::asio::awaitable<std::error_code> send_binary(std::string bytes);

  // The next message. After the server closes, the error is
  // websocket closed and close_code() tells why (1001, 1008, 1009, ...).
  boost::asio::awaitable<result<server_message, std::error_code>> receive();
  std::uint16_t close_code() const noexcept;

  boost::asio::awaitable<std::error_code> close(std::uint16_t code = 1000);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

class blocking_connection {
 public:
  blocking_connection();
  ~blocking_connection();

  std::error_code connect(std::string url, connect_options options = {});
  const welcome_info& welcome() const noexcept;
  const std::string& peer() const noexcept { return welcome().peer; }

  std::error_code send_text(std::string frame);
  std::error_code send(const nlohmann::json& message);
  std::error_code send_binary(std::string bytes);

  // The next message, or errc::timeout if none arrives in time; the
  // connection stays usable after a timeout.
  result<server_message, std::error_code> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends `join` and returns the reply (`joined` or `error`).
  result<server_message, std::error_code> join(const std::string& room);
  std::uint16_t close_code() const noexcept;
  std::error_code close(std::uint16_t code = 1000);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::client

template <>
struct std::is_error_code_enum<sigkit::client::errc> : std::true_type {};
