#include "sigkit/client/client.hpp"
#include "sigkit/client/tls_session.hpp"

#include <cctype>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <type_traits>
#include <variant>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace sigkit::client {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

using plain_ws = websocket::stream<beast::tcp_stream>;
using tls_ws = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

class error_category_impl : public std::error_category {
 public:
  const char* name() const noexcept override { return "sigkit.client"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::bad_url: return "not a ws:// or wss:// URL";
      case errc::no_welcome: return "the server did not send a welcome";
      case errc::malformed_message: return "the server sent a malformed message";
      case errc::timeout: return "timed out";
    }
    return "unknown client error";
  }
};

// Values are OpenSSL's: a verify result (X509_V_ERR_*, small numbers whose
// packed "library" is 0) or a packed error code (ERR_PACK: library, reason).
class tls_category_impl : public std::error_category {
 public:
  const char* name() const noexcept override { return "sigkit.client.tls"; }
  std::string message(int value) const override {
    const auto code = static_cast<unsigned long>(static_cast<unsigned int>(value));
    if (ERR_GET_LIB(code) == 0)
      return std::string("certificate verify failed (") + X509_verify_cert_error_string(value) + ")";
    if (ERR_SYSTEM_ERROR(code)) return std::strerror(ERR_GET_REASON(code));
    if (const char* reason = ERR_reason_error_string(code)) return reason;
    return "OpenSSL error " + std::to_string(code);
  }
};

std::error_code tls_error(unsigned long openssl_code) {
  return {static_cast<int>(static_cast<unsigned int>(openssl_code)), tls_category()};
}

// The error OpenSSL queued for a call that failed; a generic one if it
// queued none.
std::error_code last_openssl_error() {
  const auto code = ERR_get_error();
  ERR_clear_error();
  return tls_error(code != 0 ? code : ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR));
}

// What a failed TLS handshake says to the caller. The handshake's own error
// for a bad certificate is only "certificate verify failed"; the verify
// result says which check failed.
std::error_code handshake_error(const boost::system::error_code& ec, SSL* ssl) {
  if (ec.category() == asio::error::get_ssl_category()) {
    const auto code = static_cast<unsigned long>(static_cast<unsigned int>(ec.value()));
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK)
        return {static_cast<int>(verify), tls_category()};
    return tls_error(code);
  }
  // The server closed the connection before the handshake was done (Asio
  // calls it a truncated stream): OpenSSL's own words for that.
  if (ec == asio::ssl::error::stream_truncated || ec == asio::error::eof)
    return tls_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING));
  return ec;  // TCP's own: reset, timeout
}

// SNI and the name the certificate must carry, on one TLS session.
std::error_code expect_host(SSL* ssl, const std::string& host) {
  boost::system::error_code not_ip;
  asio::ip::make_address(host, not_ip);
  if (!not_ip) {
    // RFC 6066 §3: SNI carries host names only; the certificate must still
    // list the address (RFC 6125 §1.7.2, an iPAddress subjectAltName).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str()) != 1) return last_openssl_error();
    return {};
  }
  if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) return last_openssl_error();
  // RFC 6125 §6.4.3: a wildcard stands for one whole label, never part of one.
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (SSL_set1_host(ssl, host.c_str()) != 1) return last_openssl_error();
  return {};
}

std::string member(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

message_kind kind_of(std::string_view type) {
  static const std::pair<std::string_view, message_kind> kinds[] = {
      {"welcome", message_kind::welcome}, {"joined", message_kind::joined},
      {"peer-joined", message_kind::peer_joined}, {"left", message_kind::left},
      {"peer-left", message_kind::peer_left}, {"pong", message_kind::pong},
      {"error", message_kind::error},     {"offer", message_kind::relay},
      {"answer", message_kind::relay},    {"candidate", message_kind::relay},
      {"bye", message_kind::relay},       {"message", message_kind::relay}};
  for (const auto& [name, kind] : kinds)
    if (name == type) return kind;
  return message_kind::other;
}

}  // namespace

const std::error_category& error_category() noexcept {
  static const error_category_impl category;
  return category;
}

const std::error_category& tls_category() noexcept {
  static const tls_category_impl category;
  return category;
}

bool is_certificate_error(const std::error_code& ec) noexcept {
  return ec.category() == tls_category() &&
         ERR_GET_LIB(static_cast<unsigned long>(static_cast<unsigned int>(ec.value()))) == 0;
}

result<ws_url, std::string> parse_ws_url(std::string_view url) {
  // RFC 3986 §3.1: schemes are case-insensitive.
  auto has_scheme = [url](std::string_view scheme) {
    if (url.size() < scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return false;
    return true;
  };
  ws_url out;
  std::string_view rest;
  if (has_scheme("wss://")) {
    out.tls = true;
    rest = url.substr(6);
  } else if (has_scheme("ws://")) {
    rest = url.substr(5);
  } else {
    return std::string("URL must start with ws:// or wss://: ") + std::string(url);
  }
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.path = slash == std::string_view::npos ? "/ws" : std::string(rest.substr(slash));
  if (authority.empty()) return std::string("URL has no host: ") + std::string(url);
  std::string_view host = authority, port = out.tls ? "443" : "80";
  if (authority.front() == '[') {  // [::1]:8080
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::string("unclosed [ in URL: ") + std::string(url);
    host = authority.substr(1, close - 1);
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::string("bad port in URL: ") + std::string(url);
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty() || port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos ||
      port.size() > 5 || std::stoul(std::string(port)) > 65535)
    return std::string("bad host or port in URL: ") + std::string(url);
  out.host = host;
  out.port = port;
  return out;
}

result<server_message, std::error_code> server_message::parse(std::string_view frame) {
  auto object = nlohmann::json::parse(frame, nullptr, false);
  if (object.is_discarded() || !object.is_object() || !object.contains("type") || !object["type"].is_string())
    return make_error_code(errc::malformed_message);
  server_message m;
  m.type = object["type"].get<std::string>();
  m.kind = kind_of(m.type);
  m.peer = member(object, "peer");
  m.room = member(object, "room");
  m.from = member(object, "from");
  m.code = member(object, "code");
  m.text = member(object, "message");
  if (auto peers = object.find("peers"); peers != object.end() && peers->is_array())
    for (const auto& p : *peers)
      if (p.is_string()) m.peers.push_back(p.get<std::string>());
  m.body = std::move(object);
  return m;
}

SSL_CTX* native_handle(const tls_context& tls) noexcept { return tls ? tls->native_handle() : nullptr; }

std::error_code expect_server_name(SSL* ssl, const std::string& host) { return expect_host(ssl, host); }

std::error_code session_error(SSL* ssl, int ssl_error) {
  if (ssl_error == SSL_ERROR_SSL) {
    const auto code = ERR_peek_last_error();
    ERR_clear_error();
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED)
      if (const long verify = SSL_get_verify_result(ssl); verify != X509_V_OK)
        return {static_cast<int>(verify), tls_category()};
    return tls_error(code != 0 ? code : ERR_PACK(ERR_LIB_SSL, 0, ERR_R_INTERNAL_ERROR));
  }
  const int saved = errno;
  ERR_clear_error();
  if (ssl_error == SSL_ERROR_SYSCALL && saved != 0) return {saved, std::generic_category()};
  return tls_error(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING));
}

result<tls_context, std::error_code> make_tls_context(const std::string& ca_file, bool insecure) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) return last_openssl_error();
  // OpenSSL frees an idle session's record buffers: a few KiB of the 80 to
  // 100 KiB a TLS connection costs in all (measured with sigbench). Most of
  // it is Asio's: its stream keeps two 17 KiB buffers and a BIO pair of two
  // more for its whole life.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (insecure) {
    ctx->set_verify_mode(asio::ssl::verify_none);
    return ctx;
  }
  boost::system::error_code ec;
  if (!ca_file.empty()) {
    // OpenSSL's word for a missing file is "system lib"; the system's is clearer.
    if (!std::ifstream(ca_file)) return std::error_code(errno ? errno : ENOENT, std::generic_category());
    ctx->load_verify_file(ca_file, ec);
  } else {
    ctx->set_default_verify_paths(ec);
  }
  if (ec) {
    if (ec.category() != asio::error::get_ssl_category()) return std::error_code(ec);
    return tls_error(static_cast<unsigned long>(static_cast<unsigned int>(ec.value())));
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  return ctx;
}

// --- connection -------------------------------------------------------------

// The stream is chosen by the URL's scheme at connect(); everything after
// is the same code for both, through std::visit.
struct connection::impl {
  explicit impl(asio::any_io_executor executor) : transport(std::in_place_type<plain_ws>, std::move(executor)) {}

  template <class F>
  decltype(auto) visit(F&& f) {
    return std::visit(std::forward<F>(f), transport);
  }

  template <class Stream>
  asio::awaitable<std::error_code> open(Stream& ws, const ws_url& url, const connect_options& options);

  tls_context tls;  // kept for as long as its session
  std::variant<plain_ws, tls_ws> transport;
  beast::flat_buffer buffer;
  welcome_info welcome;
  unsigned refusal_status = 0;
};

connection::connection(asio::any_io_executor executor) : impl_(std::make_unique<impl>(std::move(executor))) {}
connection::~connection() = default;

const welcome_info& connection::welcome() const noexcept { return impl_->welcome; }
unsigned connection::refusal_status() const noexcept { return impl_->refusal_status; }

asio::awaitable<std::error_code> connection::connect(std::string url, connect_options options) {
  auto parsed = parse_ws_url(url);
  if (!parsed) co_return make_error_code(errc::bad_url);
  auto executor = impl_->visit([](auto& ws) { return ws.get_executor(); });
  std::error_code ec;
  if (parsed->tls) {
    impl_->tls = options.tls;
    if (!impl_->tls) {
      auto made = make_tls_context(options.ca_file, options.insecure);
      if (!made) co_return made.error();
      impl_->tls = std::move(made.value());
    }
    ec = co_await impl_->open(impl_->transport.emplace<tls_ws>(executor, *impl_->tls), *parsed, options);
  } else {
    ec = co_await impl_->open(impl_->transport.emplace<plain_ws>(executor), *parsed, options);
  }
  if (ec) co_return ec;

  auto first = co_await receive();
  impl_->visit([&](auto& ws) {
    beast::get_lowest_layer(ws).expires_never();
    // From here Beast's own timer bounds the closing handshake.
    ws.set_option(websocket::stream_base::timeout{options.timeout, websocket::stream_base::none(), false});
  });
  if (!first) co_return first.error();
  const auto& m = first.value();
  if (m.kind != message_kind::welcome || m.peer.empty()) co_return make_error_code(errc::no_welcome);
  auto& w = impl_->welcome;
  w.peer = m.peer;
  w.protocol = m.body.value("protocol", 0);
  w.server = m.body.value("server", "");
  if (auto hb = m.body.find("heartbeat"); hb != m.body.end() && hb->is_object()) {
    w.ping_interval = std::chrono::milliseconds(hb->value("interval_ms", 0));
    w.ping_timeout = std::chrono::milliseconds(hb->value("timeout_ms", 0));
  }
  co_return std::error_code{};
}

// TCP, then TLS for wss://, then the WebSocket upgrade.
template <class Stream>
asio::awaitable<std::error_code> connection::impl::open(Stream& ws, const ws_url& url, const connect_options& options) {
  auto& stream = beast::get_lowest_layer(ws);

  tcp::resolver resolver(ws.get_executor());
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url.host, url.port, use_tuple);
  if (resolve_ec) co_return resolve_ec;

  // The whole sequence up to `welcome` shares one deadline.
  stream.expires_after(options.timeout);
  if (!options.source_address.empty()) {
    beast::error_code ec;
    auto source = asio::ip::make_address(options.source_address, ec);
    if (ec) co_return ec;
    auto& socket = stream.socket();
    socket.open(source.is_v6() ? tcp::v6() : tcp::v4(), ec);
    if (!ec) socket.bind({source, 0}, ec);
    if (ec) co_return ec;
    auto [connect_ec] = co_await stream.async_connect(*endpoints.begin(), use_tuple);
    if (connect_ec) co_return connect_ec;
  } else {
    auto [connect_ec, endpoint] = co_await stream.async_connect(endpoints, use_tuple);
    if (connect_ec) co_return connect_ec;
  }

  // Signaling is small messages in quick succession (an offer, then its
  // candidates): Nagle's algorithm would hold each one for the previous
  // one's delayed ACK, some 40 ms on Linux.
  {
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }

  if constexpr (std::is_same_v<Stream, tls_ws>) {
    auto& session = ws.next_layer();
    if (auto ec = expect_host(session.native_handle(), url.host)) co_return ec;
    auto [tls_ec] = co_await session.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (tls_ec) co_return handshake_error(tls_ec, session.native_handle());
  }

  ws.read_message_max(options.max_message_bytes);
  // Clients mask every frame through this buffer, and Beast keeps it for the
  // life of the stream: one TCP frame's worth instead of the 4 KiB default
  // is what lets a load generator hold tens of thousands of peers.
  ws.write_buffer_bytes(1536);
  ws.text(true);
  if (!options.origin.empty())
    ws.set_option(websocket::stream_base::decorator(
        [origin = options.origin](websocket::request_type& req) { req.set(beast::http::field::origin, origin); }));
  // RFC 7230 §5.4: an IPv6 literal keeps its brackets in Host.
  std::string host = (url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host) + ":" + url.port;
  websocket::response_type response;
  auto [handshake_ec] = co_await ws.async_handshake(response, host, url.path, use_tuple);
  if (handshake_ec) {
    // Beast fills in a 500 before it reads anything: only a declined upgrade
    // has a status the server really sent.
    if (handshake_ec == websocket::error::upgrade_declined) refusal_status = response.result_int();
    co_return handshake_ec;
  }

  co_return std::error_code{};
}

asio::awaitable<std::error_code> connection::send_text(std::string frame) {
  auto [ec, n] = co_await impl_->visit([&](auto& ws) {
    ws.text(true);
    return ws.async_write(asio::buffer(frame), use_tuple);
  });
  co_return ec;
}

asio::awaitable<std::error_code> connection::send(const nlohmann::json& message) {
  co_return co_await send_text(message.dump());
}

asio::awaitable<std::error_code> connection::send_binary(std::string bytes) {
  auto [ec, n] = co_await impl_->visit([&](auto& ws) {
    ws.binary(true);
    return ws.async_write(asio::buffer(bytes), use_tuple);
  });
  impl_->visit([](auto& ws) { ws.text(true); });
  co_return ec;
}

asio::awaitable<result<server_message, std::error_code>> connection::receive() {
  auto& buffer = impl_->buffer;
  buffer.clear();
  // An idle connection should not keep the memory of its largest message
  // (an SDP is a few KiB).
  if (buffer.capacity() > 2048) buffer.shrink_to_fit();
  auto [ec, n] = co_await impl_->visit([&](auto& ws) { return ws.async_read(buffer, use_tuple); });
  if (ec) co_return std::error_code(ec);
  co_return server_message::parse({static_cast<const char*>(buffer.data().data()), buffer.size()});
}

std::uint16_t connection::close_code() const noexcept {
  return std::visit([](const auto& ws) { return ws.reason().code; }, impl_->transport);
}

asio::awaitable<std::error_code> connection::close(std::uint16_t code) {
  auto [ec] = co_await impl_->visit([&](auto& ws) { return ws.async_close(websocket::close_reason(code), use_tuple); });
  co_return ec;
}

// --- blocking_connection ----------------------------------------------------

struct blocking_connection::impl {
  asio::io_context io;
  connection c{io.get_executor()};
  std::deque<result<server_message, std::error_code>> inbox;
  bool reader_started = false;

  // Runs one coroutine to completion on this thread; a background reader
  // keeps running meanwhile, so pings are answered and messages queue up.
  template <class T>
  T run(asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out = std::move(value);
    });
    io.restart();
    while (!out) io.run_one();
    return std::move(*out);
  }

  void start_reader() {
    reader_started = true;
    asio::co_spawn(io, [this]() -> asio::awaitable<void> {
      for (;;) {
        auto m = co_await c.receive();
        bool failed = !m && m.error() != std::error_code(errc::malformed_message);
        inbox.push_back(std::move(m));
        if (failed) co_return;
      }
    }, asio::detached);
  }
};

blocking_connection::blocking_connection() : impl_(std::make_unique<impl>()) {}
blocking_connection::~blocking_connection() = default;

std::error_code blocking_connection::connect(std::string url, connect_options options) {
  auto ec = impl_->run(impl_->c.connect(std::move(url), std::move(options)));
  if (!ec) impl_->start_reader();
  return ec;
}

const welcome_info& blocking_connection::welcome() const noexcept { return impl_->c.welcome(); }

std::error_code blocking_connection::send_text(std::string frame) { return impl_->run(impl_->c.send_text(std::move(frame))); }
std::error_code blocking_connection::send(const nlohmann::json& message) { return send_text(message.dump()); }
std::error_code blocking_connection::send_binary(std::string bytes) {
  return impl_->run(impl_->c.send_binary(std::move(bytes)));
}

result<server_message, std::error_code> blocking_connection::receive(std::chrono::milliseconds timeout) {
  auto& io = impl_->io;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  io.restart();
  while (impl_->inbox.empty()) {
    if (std::chrono::steady_clock::now() >= deadline) return make_error_code(errc::timeout);
    if (io.run_one_until(deadline) == 0 && io.stopped()) {
      if (impl_->inbox.empty()) return make_error_code(errc::timeout);
    }
  }
  auto m = std::move(impl_->inbox.front());
  impl_->inbox.pop_front();
  return m;
}

result<server_message, std::error_code> blocking_connection::join(const std::string& room) {
  if (auto ec = send(nlohmann::json{{"type", "join"}, {"room", room}})) return ec;
  return receive();
}

std::uint16_t blocking_connection::close_code() const noexcept { return impl_->c.close_code(); }

std::error_code blocking_connection::close(std::uint16_t code) { return impl_->run(impl_->c.close(code)); }

}  // namespace sigkit::client
