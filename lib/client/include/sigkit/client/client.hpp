// A protocol v1 client over WebSocket: connect (until `welcome`), send, and
// receive typed server messages. `connection` is the asynchronous one (C++20
// coroutines on any Asio executor, so thousands can share a thread);
// `blocking_connection` wraps it with its own event loop for scripts and tests.
// Both speak ws:// and wss:// (TLS over OpenSSL) with the same API.
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

namespace boost::asio::ssl {
class context;
}

namespace sigkit::client {

// Failures of the client's own making, beside the transport's error codes.
enum class errc {
  bad_url = 1,        // not ws:// or wss://host[:port][/path]
  no_welcome,         // the first message was not a valid `welcome`
  malformed_message,  // the server sent something that is not a JSON object with a type
  timeout,            // nothing arrived in time (blocking_connection)
};
const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

// Failures of the TLS layer of a wss:// connection, in a category of their
// own so a caller can tell them from TCP and WebSocket errors
// (`ec.category() == tls_category()`); their messages do not repeat "TLS".
// A certificate that does not verify has OpenSSL's verify result
// (X509_V_ERR_*) as its value, and its message says why: "certificate
// verify failed (self-signed certificate)", "... (hostname mismatch)". Any
// other failure has OpenSSL's error code ("wrong version number", "tlsv1
// alert unknown ca", "no certificate or crl found" for a bad CA file).
const std::error_category& tls_category() noexcept;
// A tls_category() error for a certificate that did not verify, as opposed
// to a handshake that failed for another reason.
bool is_certificate_error(const std::error_code& ec) noexcept;

struct ws_url {
  bool tls = false;  // wss://
  std::string host;  // without the brackets of an IPv6 literal
  std::string port;  // 80 for ws://, 443 for wss:// unless given
  std::string path;  // /ws unless given
};
result<ws_url, std::string> parse_ws_url(std::string_view url);

// The TLS settings of wss:// connections. Building one loads the trusted
// certificates (the system's store holds over a hundred), so a program with
// many connections builds it once and hands it to each: it is shared, and
// safe to use from several threads at once as long as nobody changes it.
using tls_context = std::shared_ptr<boost::asio::ssl::context>;

// `ca_file`: a PEM bundle of the certificates to trust; empty for the
// system's default verify paths. `insecure`: accept any certificate for any
// name. That exists for test servers with self-signed certificates and
// nothing else: it leaves the connection open to anyone in the middle.
// A CA file that cannot be read fails with the system's error (ENOENT,
// EACCES), one OpenSSL cannot use with a tls_category() error.
result<tls_context, std::error_code> make_tls_context(const std::string& ca_file = {}, bool insecure = false);

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
  std::chrono::milliseconds timeout{10'000};      // TCP connect + TLS + upgrade + welcome
  std::size_t max_message_bytes = 16 * 1024 * 1024;

  // wss:// only. Unless insecure, the server's certificate must chain to a
  // trusted one and name the URL's host (RFC 6125: a host name among its DNS
  // names, an IP address among its IP addresses); the TLS handshake sends
  // the host name as SNI (RFC 6066 §3: names only, never addresses).
  std::string ca_file;  // see make_tls_context
  bool insecure = false;
  tls_context tls;      // from make_tls_context, to share; when set, ca_file and insecure are not read
};

class connection {
 public:
  explicit connection(boost::asio::any_io_executor executor);
  ~connection();
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // ws:// or wss://; the whole sequence (TCP, TLS, upgrade, welcome) within
  // options.timeout. One connect per connection.
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
