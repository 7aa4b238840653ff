// --from-sigserve: the welcome of a signaling server, over WebSocket (RFC
// 6455) with Beast. Reading the welcome's ice_servers is pure
// (probe::read_welcome); this file only connects, upgrades, reads one
// message and closes.
//
// Why not sigkit::client::connection: its connect() consumes the welcome and
// keeps only peer, protocol, server and heartbeat (welcome_info), so the
// ice_servers never reach its caller. The URL and the first message are still
// read by the client library's own parse_ws_url and server_message::parse.
#include "signaling.hpp"

#include <algorithm>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "sigkit/client/client.hpp"
#include "sigkit/probe/diagnosis.hpp"
#include "sigkit/probe/targets.hpp"

namespace sigkit::probe_engine {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

// A welcome is a few hundred bytes; whatever answers is not allowed to make
// the probe buffer more.
constexpr std::size_t max_welcome_bytes = 64 * 1024;
// The closing handshake is a courtesy to the server's log; it gets little time.
constexpr auto close_budget = std::chrono::milliseconds(500);

bool is_http_error(const boost::system::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_version).category();
}
bool is_websocket_error(const boost::system::error_code& ec) {
  return ec.category() == websocket::make_error_code(websocket::error::bad_http_version).category();
}

// "HTTP 403 Forbidden: origin not allowed (Server: sigserve/0.1.0)": the
// status, the server's one-line reason if its body is one, Retry-After and
// who answered.
std::string refusal_text(const websocket::response_type& response) {
  std::string text = "HTTP " + std::to_string(response.result_int());
  if (!response.reason().empty()) text += " " + std::string(response.reason());
  std::string body = response.body().substr(0, response.body().find_first_of("\r\n"));
  if (body.size() > 160) body = body.substr(0, 160) + "...";
  const bool printable = std::all_of(body.begin(), body.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
  if (!body.empty() && printable && body.front() != '<') text += ": " + body;
  if (const auto retry = response[http::field::retry_after]; !retry.empty())
    text += " (Retry-After: " + std::string(retry) + ")";
  // Who answered tells a wrong port from a signaling server that said no.
  if (const auto server = response[http::field::server]; !server.empty())
    text += " (Server: " + std::string(server.substr(0, 80)) + ")";
  return text;
}

failure upgrade_failure(const boost::system::error_code& ec, const websocket::response_type& response) {
  // Only then was a response read: Beast sets the status to 500 before it
  // sends the request, so a timeout or a lost connection leaves a 500 that
  // no server sent.
  if (ec == websocket::error::upgrade_declined) {
    auto f = make_failure(failure_kind::upgrade_refused, refusal_text(response));
    f.code_ = static_cast<int>(response.result_int());
    return f;
  }
  if (ec == beast::error::timeout) return make_failure(failure_kind::timeout, "no answer to the WebSocket upgrade");
  if (ec == http::error::end_of_stream || ec == asio::error::eof)
    return make_failure(failure_kind::connection_lost,
                        "the server closed the connection during the WebSocket upgrade");
  if (is_http_error(ec))
    return make_failure(failure_kind::wrong_protocol,
                        "the answer to the WebSocket upgrade is not HTTP (" + ec.message() + ")");
  if (is_websocket_error(ec))
    return make_failure(failure_kind::wrong_protocol, "the WebSocket upgrade failed: " + ec.message());
  auto f = failure_from(ec);
  if (f.kind_ == failure_kind::connection_lost)
    f.reason_ = "the server closed the connection during the WebSocket upgrade (" + f.reason_ + ")";
  return f;
}

failure read_failure(const boost::system::error_code& ec, const websocket::stream<beast::tcp_stream>& ws) {
  if (ec == beast::error::timeout) return make_failure(failure_kind::timeout, "no welcome after the WebSocket upgrade");
  if (ec == websocket::error::closed) {
    const auto& why = ws.reason();
    std::string text = "the server closed the WebSocket (" + std::to_string(why.code);
    if (!why.reason.empty()) text += " " + std::string(why.reason.data(), why.reason.size());
    return make_failure(failure_kind::connection_lost, text + ") before its welcome");
  }
  if (ec == asio::error::eof || ec == http::error::end_of_stream)
    return make_failure(failure_kind::connection_lost, "the server closed the connection before its welcome");
  if (ec == websocket::error::message_too_big)
    return make_failure(failure_kind::wrong_protocol, "the first message is larger than a welcome can be");
  if (is_websocket_error(ec)) return make_failure(failure_kind::wrong_protocol, ec.message());
  return failure_from(ec);
}

// The Host header (RFC 9110 §7.2): an IPv6 literal in brackets.
std::string host_header(const client::ws_url& url) {
  const bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
}

awaitable<result<nlohmann::json, failure>> fetch_welcome(const signaling_source& source,
                                                         const std::string& user_agent, clock::time_point deadline) {
  auto url = client::parse_ws_url(source.url_);
  // The tool refuses such a URL as a usage error before the run starts.
  if (!url) co_return make_failure(failure_kind::internal, url.error());
  if (clock::now() >= deadline) co_return make_failure(failure_kind::no_time_left, "--timeout reached");
  const auto port = static_cast<std::uint16_t>(std::stoul(url->port));

  // A name is looked up as the STUN servers' names are: a resolver that
  // hangs cannot hold the run past --timeout.
  std::vector<stun::address> addresses;
  if (auto literal = stun::address::from_string(url->host, port)) {
    addresses.push_back(*literal);
  } else {
    auto found = co_await lookup(url->host, port, deadline);
    if (!found) co_return found.error();
    addresses = std::move(found.value());
  }

  websocket::stream<beast::tcp_stream> ws(co_await asio::this_coro::executor);
  auto& stream = beast::get_lowest_layer(ws);
  std::optional<failure> last;
  bool connected = false;
  for (const auto& a : addresses) {
    stream.expires_at(deadline);
    auto [ec] = co_await stream.async_connect(tcp::endpoint(to_asio(a), a.port_), use_tuple);
    if (!ec) {
      connected = true;
      break;
    }
    last = ec == beast::error::timeout ? make_failure(failure_kind::timeout, "no answer to the TCP handshake")
                                       : failure_from(ec);
    boost::system::error_code ignored;
    stream.socket().close(ignored);
    if (clock::now() >= deadline) break;
  }
  if (!connected) co_return last ? *last : make_failure(failure_kind::internal, "no address to connect to");
  {
    boost::system::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
  }

  ws.read_message_max(max_welcome_bytes);
  ws.set_option(websocket::stream_base::decorator([&source, user_agent](websocket::request_type& request) {
    // The User-Agent lets an operator find the probe in the server's log.
    request.set(http::field::user_agent, user_agent);
    if (!source.origin_.empty()) request.set(http::field::origin, source.origin_);
  }));
  websocket::response_type response;
  stream.expires_at(deadline);
  auto [handshake_ec] = co_await ws.async_handshake(response, host_header(*url), url->path, use_tuple);
  if (handshake_ec) co_return upgrade_failure(handshake_ec, response);

  beast::flat_buffer buffer;
  stream.expires_at(deadline);
  auto [read_ec, n] = co_await ws.async_read(buffer, use_tuple);
  if (read_ec) co_return read_failure(read_ec, ws);
  const std::string_view frame(static_cast<const char*>(buffer.data().data()), buffer.size());
  auto message = client::server_message::parse(frame);
  std::optional<failure> wrong;
  if (!message) {
    wrong = make_failure(failure_kind::wrong_protocol, "the first message is not a JSON object with a \"type\"");
  } else if (message->kind != client::message_kind::welcome || message->peer.empty()) {
    wrong = make_failure(failure_kind::wrong_protocol,
                         message->kind == client::message_kind::welcome
                             ? std::string("the welcome names no peer")
                             : "the first message is a '" + message->type + "', not a welcome");
  }

  // RFC 6455 §7.1.2: close politely, so the server logs a normal closure.
  stream.expires_at(std::min(deadline, clock::now() + close_budget));
  auto [close_ec] = co_await ws.async_close(websocket::close_code::normal, use_tuple);
  (void)close_ec;  // the welcome is what counts; a lost close frame changes nothing for the probe

  if (wrong) co_return *wrong;
  co_return std::move(message->body);
}

}  // namespace

std::optional<std::string> signaling_url_problem(std::string_view url) {
  // Plain WebSocket only: the fetch below speaks no TLS.
  constexpr std::string_view scheme = "ws://";
  if (url.substr(0, scheme.size()) != scheme)
    return "expected a ws:// URL such as ws://127.0.0.1:8080/ws (wss:// is not supported yet), got '" +
           std::string(url) + "'";
  auto parsed = client::parse_ws_url(url);
  if (!parsed) return parsed.error();
  return std::nullopt;
}

awaitable<fetched_ice_servers> fetch_ice_servers(const signaling_source& source, const std::string& user_agent,
                                                 clock::time_point deadline) {
  fetched_ice_servers out;
  auto& r = out.report_;
  r.url_ = source.url_;
  const auto started = clock::now();
  auto welcome = co_await fetch_welcome(source, user_agent, deadline);
  if (welcome) {
    auto reading = read_welcome(*welcome, source.credentials_);
    r.welcome_ = std::move(reading.welcome_);
    if (reading.failure_) r.error_ = std::move(reading.failure_);
    else out.targets_ = std::move(reading.targets_);
  } else {
    r.error_ = welcome.error();
  }
  if (r.error_ && r.error_->hint_.empty()) r.error_->hint_ = signaling_hint(*r.error_, source.url_);
  r.ok_ = !r.error_;
  r.ms_ = ms_since(started);
  co_return out;
}

}  // namespace sigkit::probe_engine
