// The HTTP/WebSocket transport around the room registry. Every connection
// runs on its own strand; the registry and the id -> session directory sit
// behind one mutex, and each decision's deliveries are posted to the
// receivers' strands while that mutex is held. Posting in decision order is
// what gives the protocol's ordering guarantees across threads.
#include "sigkit/server/server.hpp"

#include <atomic>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "sigkit/http/origin_policy.hpp"
#include "sigkit/peer_id.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/rate_limit.hpp"
#include "sigkit/rooms/room_registry.hpp"
#include "sigkit/metrics/server_metrics.hpp"

namespace sigkit::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;
using metrics::close_reason;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

class ws_session;

struct shared_state {
  shared_state(sigkit::server::options opts, logger& l)
      : options(std::move(opts)),
        log(l),
        origins(options.allowed_origins),
        registry(options.room_capacity) {}

  const sigkit::server::options options;
  logger& log;
  const sigkit::http::origin_policy origins;
  metrics::server_metrics metrics;

  std::mutex mutex;  // guards registry and sessions
  rooms::room_registry registry;
  std::unordered_map<rooms::member_handle, std::shared_ptr<ws_session>> sessions;
  rooms::member_handle last_handle = 0;

  // Upgrades admitted whose session still exists; bounded by max_connections.
  std::atomic<std::size_t> admitted{0};
  std::atomic<bool> stopping{false};

  // Posts an outcome's frames to their receivers. Call with `mutex` held.
  void dispatch(const rooms::outcome& outcome, rooms::member_handle sender,
                std::optional<clock::time_point> join_started);
};

// Quiet for what is expected when peers come and go.
bool is_routine(const beast::error_code& ec) {
  return ec == asio::error::operation_aborted || ec == websocket::error::closed ||
         ec == beast::error::timeout || ec == http::error::end_of_stream ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

// Completion for co_spawn: the unexpected is logged, never rethrown.
auto report_exception(std::shared_ptr<shared_state> state) {
  return [state](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      state->log.error("internal-error", {{"what", ex.what()}});
    }
  };
}

class ws_session : public std::enable_shared_from_this<ws_session> {
 public:
  ws_session(beast::tcp_stream&& stream, std::shared_ptr<shared_state> state, std::string remote)
      : ws_(std::move(stream)),
        state_(std::move(state)),
        remote_(std::move(remote)),
        heartbeat_timer_(ws_.get_executor()),
        close_deadline_(ws_.get_executor()),
        bucket_(state_->options.rate_limit, state_->options.rate_burst, clock::now()) {}

  ~ws_session() { state_->admitted.fetch_sub(1); }

  void start(http::request<http::string_body> request) {
    asio::co_spawn(ws_.get_executor(), run(shared_from_this(), std::move(request)),
                   report_exception(state_));
  }

  // From any thread, with the state mutex held (see shared_state::dispatch).
  void deliver(std::shared_ptr<const std::string> frame, std::optional<clock::time_point> join_started) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame), join_started] {
      self->enqueue(std::move(frame), join_started);
    });
  }

  // From any thread.
  void close(websocket::close_code code, close_reason reason) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), code, reason] { self->begin_close(code, reason); });
  }


 private:
  struct outbound {
    std::shared_ptr<const std::string> frame;
    std::optional<clock::time_point> join_started;  // for the join latency histogram
  };

  static asio::awaitable<void> run(std::shared_ptr<ws_session> self, http::request<http::string_body> request) {
    co_await self->serve(std::move(request));
  }

  asio::awaitable<void> serve(http::request<http::string_body> request) {
    const auto& opts = state_->options;
    // Beast's own timer now covers the opening and closing handshakes;
    // liveness after that is the heartbeat's job.
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout{opts.handshake_timeout, websocket::stream_base::none(), false});
    ws_.set_option(websocket::stream_base::decorator([name = opts.server_name](websocket::response_type& res) {
      res.set(http::field::server, name);
    }));
    ws_.read_message_max(opts.max_message_bytes);
    ws_.text(true);

    auto [ec] = co_await ws_.async_accept(request, use_tuple);
    if (ec) {
      state_->log.debug("handshake-failed", {{"remote", remote_}, {"error", ec.message()}});
      co_return;
    }
    connected_at_ = last_heard_ = last_ping_ = clock::now();
    register_peer();
    ws_.control_callback([this](websocket::frame_type, beast::string_view) { last_heard_ = clock::now(); });
    if (opts.ping_interval.count() > 0)
      asio::co_spawn(ws_.get_executor(), heartbeat(shared_from_this()), report_exception(state_));

    co_await read_frames();

    heartbeat_timer_.cancel();
    close_deadline_.cancel();
    depart();
    state_->metrics.connections_open.fetch_sub(1);
    state_->metrics.closes[static_cast<std::size_t>(reason_)].fetch_add(1);
    auto seconds = std::chrono::duration<double>(clock::now() - connected_at_).count();
    state_->log.info("close", {{"peer", id_},
                               {"reason", metrics::to_string(reason_)},
                               {"seconds", std::to_string(static_cast<long>(seconds))}});
  }

  void register_peer() {
    auto& st = *state_;
    {
      std::lock_guard lock(st.mutex);
      id_ = random_peer_id();
      self_ = {id_, ++st.last_handle};
      st.sessions.emplace(self_.handle, shared_from_this());
    }
    st.metrics.connections_open.fetch_add(1);
    st.metrics.connections_total.fetch_add(1);
    st.log.info("connect", {{"peer", id_}, {"remote", remote_}});
    auto welcome = proto::encode_welcome(
        id_, st.options.server_name,
        {st.options.ping_interval.count(), st.options.ping_timeout.count()});
    enqueue(std::make_shared<const std::string>(std::move(welcome)), std::nullopt);
  }

  asio::awaitable<void> read_frames() {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, bytes] = co_await ws_.async_read(buffer, use_tuple);
      if (ec) {
        note_read_error(ec);
        co_return;
      }
      last_heard_ = clock::now();
      if (closing_) {
        buffer.consume(bytes);
        continue;  // draining until the close handshake completes
      }
      if (!ws_.got_text()) {
        buffer.consume(bytes);
        begin_close(websocket::close_code::unknown_data, close_reason::binary_frame);
        continue;
      }
      state_->metrics.messages_received.fetch_add(1, std::memory_order_relaxed);
      on_frame({static_cast<const char*>(buffer.data().data()), buffer.size()});
      buffer.consume(bytes);
      // Most connections sit idle after negotiating; they should not keep
      // the memory of their largest message (an SDP is a few KiB).
      if (buffer.capacity() > 2048) buffer.shrink_to_fit();
    }
  }

  void note_read_error(const beast::error_code& ec) {
    if (ec == websocket::error::closed) set_reason(close_reason::client_close);
    else if (ec == websocket::error::message_too_big) set_reason(close_reason::message_too_big);
    else if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) set_reason(close_reason::protocol_error);
    else set_reason(close_reason::network_error);
    if (!is_routine(ec) && ec != websocket::error::message_too_big)
      state_->log.debug("read-error", {{"peer", id_}, {"error", ec.message()}});
  }

  void on_frame(std::string_view text) {
    auto& st = *state_;
    auto received = clock::now();
    auto decoded = proto::decode(text);
    bool allowed = bucket_.try_take(received);

    rooms::outcome outcome;
    std::string joined_room;
    {
      std::lock_guard lock(st.mutex);
      if (!decoded) {
        const auto& e = decoded.error();
        outcome = rooms::refuse(self_, e.code, e.message, e.rid_json);
      } else if (!allowed) {
        outcome = rooms::refuse(
            self_, proto::error_code::rate_limited,
            "more than " + std::to_string(static_cast<long>(st.options.rate_limit)) +
                " messages per second; this one was dropped",
            decoded->rid_json);
      } else {
        outcome = st.registry.handle(self_, room_, *decoded);
        if (outcome.joined) room_ = *outcome.joined;
        if (outcome.left) room_.clear();
      }
      bool joined = decoded && !outcome.error && decoded->type == proto::message_type::join;
      st.dispatch(outcome, self_.handle, joined ? std::optional(received) : std::nullopt);
      st.metrics.rooms.store(static_cast<std::int64_t>(st.registry.room_count()));
      if (joined) joined_room = decoded->room;
    }

    // Counting and logging happen outside the lock.
    if (outcome.error) {
      st.metrics.errors[static_cast<std::size_t>(*outcome.error)].fetch_add(1, std::memory_order_relaxed);
      auto level = *outcome.error == proto::error_code::rate_limited ? log_level::debug : log_level::info;
      if (st.log.enabled(level))
        st.log.write(level, "error", {{"peer", id_}, {"code", proto::to_string(*outcome.error)}});
      return;
    }
    auto type = decoded->type;
    if (proto::is_relay(type)) {
      st.metrics.relayed[static_cast<std::size_t>(type)].fetch_add(1, std::memory_order_relaxed);
    } else if (type == proto::message_type::join) {
      st.metrics.joins.fetch_add(1, std::memory_order_relaxed);
      st.log.info("join", {{"peer", id_}, {"room", joined_room}});
    } else if (type == proto::message_type::leave) {
      st.log.info("leave", {{"peer", id_}});
    }
  }

  void enqueue(std::shared_ptr<const std::string> frame, std::optional<clock::time_point> join_started) {
    if (closing_) return;
    queued_bytes_ += frame->size();
    if (queued_bytes_ > state_->options.max_send_queue_bytes) {
      state_->metrics.send_queue_overflows.fetch_add(1);
      state_->log.warn("send-queue-overflow",
                       {{"peer", id_}, {"queued_bytes", std::to_string(queued_bytes_)}});
      begin_close(websocket::close_code::policy_error, close_reason::send_queue_overflow);
      return;
    }
    queue_.push_back({std::move(frame), join_started});
    if (!writing_) write_next();
  }

  void write_next() {
    writing_ = true;
    ws_.async_write(asio::buffer(*queue_.front().frame),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_written(ec); });
  }

  void on_written(const beast::error_code& ec) {
    writing_ = false;
    if (ec) return;  // the read loop sees the broken connection and cleans up
    auto done = std::move(queue_.front());
    queue_.pop_front();
    queued_bytes_ -= done.frame->size();
    state_->metrics.messages_sent.fetch_add(1, std::memory_order_relaxed);
    if (done.join_started) state_->metrics.join_latency.observe(clock::now() - *done.join_started);
    if (!queue_.empty() && !closing_) write_next();
  }

  // Leaves the room (others see peer-left) and closes with `code`. The read
  // loop keeps running until the close handshake ends or times out.
  void begin_close(websocket::close_code code, close_reason reason) {
    if (closing_) return;
    closing_ = true;
    set_reason(reason);
    depart();
    heartbeat_timer_.cancel();
    ws_.async_close(code, [self = shared_from_this()](beast::error_code) { self->drop_socket(); });
    // Beast's close timer starts only once the close frame can be written; a
    // reader that stopped reading keeps our last write, and so the close,
    // waiting forever. This deadline ends it regardless.
    close_deadline_.expires_after(state_->options.handshake_timeout);
    close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->drop_socket();
    });
  }

  void drop_socket() {
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().close(ignored);
  }

  static asio::awaitable<void> heartbeat(std::shared_ptr<ws_session> self) {
    co_await self->keep_alive();
  }

  // Pings every ping_interval; drops the connection when nothing at all
  // (frame, pong) has been heard for ping_timeout.
  asio::awaitable<void> keep_alive() {
    const auto interval = state_->options.ping_interval;
    const auto timeout = state_->options.ping_timeout;
    for (;;) {
      heartbeat_timer_.expires_at(std::min(last_heard_ + timeout, last_ping_ + interval));
      auto [ec] = co_await heartbeat_timer_.async_wait(use_tuple);
      if (ec || closing_) co_return;
      auto now = clock::now();
      if (now - last_heard_ >= timeout) {
        closing_ = true;
        set_reason(close_reason::heartbeat_timeout);
        depart();
        state_->log.info("heartbeat-timeout", {{"peer", id_}});
        // A peer that does not answer pings will not answer a close frame.
        drop_socket();
        co_return;
      }
      if (now - last_ping_ >= interval && !ping_in_flight_) {
        last_ping_ = now;
        ping_in_flight_ = true;
        ws_.async_ping({}, [self = shared_from_this()](beast::error_code) { self->ping_in_flight_ = false; });
      }
    }
  }

  void set_reason(close_reason reason) {
    if (!reason_set_) reason_ = reason;
    reason_set_ = true;
  }

  // Removes this peer from its room and from the directory, once.
  void depart() {
    if (departed_ || id_.empty()) return;
    departed_ = true;
    auto& st = *state_;
    std::lock_guard lock(st.mutex);
    auto outcome = st.registry.disconnect(self_, room_);
    st.dispatch(outcome, self_.handle, std::nullopt);
    st.sessions.erase(self_.handle);
    st.metrics.rooms.store(static_cast<std::int64_t>(st.registry.room_count()));
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<shared_state> state_;
  std::string remote_;
  std::string id_;
  rooms::member self_;
  std::string room_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer close_deadline_;
  token_bucket bucket_;

  // Strand-confined state.
  std::deque<outbound> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closing_ = false;
  bool departed_ = false;
  bool ping_in_flight_ = false;
  bool reason_set_ = false;
  close_reason reason_ = close_reason::network_error;
  clock::time_point connected_at_, last_heard_, last_ping_;
};

void shared_state::dispatch(const rooms::outcome& outcome, rooms::member_handle sender,
                            std::optional<clock::time_point> join_started) {
  for (const auto& d : outcome.deliveries) {
    auto it = sessions.find(d.to);
    if (it == sessions.end()) continue;  // cannot happen: registry and directory change together
    it->second->deliver(d.frame, d.to == sender ? join_started : std::nullopt);
  }
}

// --- plain HTTP: the demo page, static files, /healthz, /metrics ----------

using response = http::response<http::string_body>;

response make_response(const http::request<http::string_body>& req, http::status status,
                       std::string body, std::string_view content_type, const shared_state& st) {
  response res{status, req.version()};
  res.set(http::field::server, st.options.server_name);
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(req.keep_alive());
  if (req.method() == http::verb::head) {
    res.content_length(body.size());
  } else {
    res.body() = std::move(body);
    res.prepare_payload();
  }
  return res;
}

response text_response(const http::request<http::string_body>& req, http::status status,
                       std::string body, const shared_state& st) {
  return make_response(req, status, std::move(body) + "\n", "text/plain; charset=utf-8", st);
}

std::string_view mime_type(const std::filesystem::path& file) {
  static const std::pair<std::string_view, std::string_view> types[] = {
      {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript"},           {".mjs", "text/javascript"},
      {".css", "text/css"},                 {".json", "application/json"},
      {".svg", "image/svg+xml"},            {".png", "image/png"},
      {".jpg", "image/jpeg"},               {".jpeg", "image/jpeg"},
      {".ico", "image/x-icon"},             {".wasm", "application/wasm"},
      {".txt", "text/plain; charset=utf-8"}};
  auto ext = file.extension().string();
  for (const auto& [e, type] : types)
    if (e == ext) return type;
  return "application/octet-stream";
}

std::optional<std::string> read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return std::move(out).str();
}

// Serves a file under --static. Requests never escape the directory: paths
// with "..", backslashes or percent-escapes are refused, and the resolved
// path must still lie inside the directory (symlinks included).
response serve_static(const http::request<http::string_body>& req, std::string_view path,
                      const shared_state& st) {
  namespace fs = std::filesystem;
  const fs::path& root = *st.options.static_dir;
  if (path.find("..") != std::string_view::npos || path.find('\\') != std::string_view::npos ||
      path.find('%') != std::string_view::npos || path.find('\0') != std::string_view::npos)
    return text_response(req, http::status::not_found, "not found", st);
  std::string relative(path.substr(1));
  std::error_code ec;
  fs::path file = root / (relative.empty() ? "index.html" : relative);
  if (fs::is_directory(file, ec)) file /= "index.html";
  // A room URL (/<room>) gets the app's page, as with the built-in demo.
  if (!fs::is_regular_file(file, ec) && proto::is_valid_room(relative)) file = root / "index.html";
  auto canonical_root = fs::weakly_canonical(root, ec);
  auto canonical_file = fs::weakly_canonical(file, ec);
  auto [root_end, unused] =
      std::mismatch(canonical_root.begin(), canonical_root.end(), canonical_file.begin(), canonical_file.end());
  if (ec || root_end != canonical_root.end() || !fs::is_regular_file(canonical_file, ec))
    return text_response(req, http::status::not_found, "not found", st);
  auto body = read_file(canonical_file);
  if (!body) return text_response(req, http::status::not_found, "not found", st);
  return make_response(req, http::status::ok, std::move(*body), mime_type(canonical_file), st);
}

response respond(const http::request<http::string_body>& req, const shared_state& st) {
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    auto res = text_response(req, http::status::method_not_allowed, "only GET and HEAD", st);
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    if (st.stopping) return text_response(req, http::status::service_unavailable, "shutting down", st);
    return text_response(req, http::status::ok, "ok", st);
  }
  if (path == "/metrics")
    return make_response(req, http::status::ok, st.metrics.prometheus_text(),
                         "text/plain; version=0.0.4; charset=utf-8", st);
  if (path == "/ws")
    return text_response(req, http::status::upgrade_required, "this is the WebSocket endpoint", st);
  if (st.options.static_dir) return serve_static(req, path, st);
  if (path == "/" || proto::is_valid_room(path.substr(1)))
    return make_response(req, http::status::ok, st.options.demo_page, "text/html; charset=utf-8", st);
  return text_response(req, http::status::not_found, "not found", st);
}

std::string endpoint_text(const tcp::socket& socket) {
  beast::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  std::ostringstream out;
  out << ep;
  return out.str();
}

// One TCP connection: HTTP requests until it upgrades to a WebSocket.
asio::awaitable<void> http_session(std::shared_ptr<shared_state> state, beast::tcp_stream stream) {
  auto& st = *state;
  beast::flat_buffer buffer;
  for (;;) {
    stream.expires_after(st.options.handshake_timeout);
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(16 * 1024);
    auto [ec, bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) {
      if (ec.category() == http::make_error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream) {
        http::request<http::string_body> dummy;
        auto res = text_response(dummy, http::status::bad_request, "bad request: " + ec.message(), st);
        res.keep_alive(false);
        co_await http::async_write(stream, res, use_tuple);
      }
      break;
    }
    auto req = parser.release();

    if (websocket::is_upgrade(req)) {
      std::string_view target = req.target();
      std::optional<response> refusal;
      auto origin_it = req.find(http::field::origin);
      std::optional<std::string_view> origin;
      if (origin_it != req.end()) origin = origin_it->value();
      if (target.substr(0, target.find('?')) != "/ws") {
        refusal = text_response(req, http::status::not_found, "the WebSocket endpoint is /ws", st);
      } else if (!st.origins.allows(origin, req[http::field::host])) {
        st.metrics.upgrades_refused[static_cast<std::size_t>(metrics::refusal::origin)].fetch_add(1);
        st.log.warn("origin-refused", {{"origin", *origin}, {"remote", endpoint_text(stream.socket())}});
        refusal = text_response(req, http::status::forbidden, "origin not allowed", st);
      } else if (st.stopping) {
        st.metrics.upgrades_refused[static_cast<std::size_t>(metrics::refusal::shutting_down)].fetch_add(1);
        refusal = text_response(req, http::status::service_unavailable, "shutting down", st);
      } else if (st.admitted.fetch_add(1) >= st.options.max_connections) {
        st.admitted.fetch_sub(1);
        st.metrics.upgrades_refused[static_cast<std::size_t>(metrics::refusal::capacity)].fetch_add(1);
        st.log.warn("capacity-refused", {{"max_connections", std::to_string(st.options.max_connections)}});
        refusal = text_response(req, http::status::service_unavailable, "too many connections", st);
        refusal->set(http::field::retry_after, "5");
      }
      if (refusal) {
        refusal->keep_alive(false);
        co_await http::async_write(stream, *refusal, use_tuple);
        break;
      }
      auto remote = endpoint_text(stream.socket());
      std::make_shared<ws_session>(std::move(stream), state, std::move(remote))->start(std::move(req));
      co_return;
    }

    auto res = respond(req, st);
    bool keep_alive = res.keep_alive();
    auto [write_ec, written] = co_await http::async_write(stream, res, use_tuple);
    if (write_ec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

struct signaling_server::impl {
  impl(sigkit::server::options options, logger& log)
      : state(std::make_shared<shared_state>(std::move(options), log)), acceptor(io) {
    const auto& opts = state->options;
    beast::error_code ec;
    auto address = asio::ip::make_address(opts.listen_address, ec);
    if (ec) throw std::system_error(ec, "invalid listen address " + opts.listen_address);
    tcp::endpoint endpoint{address, opts.port};
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    // "::" should also accept IPv4, as users expect from "listen everywhere".
    if (address.is_v6()) acceptor.set_option(asio::ip::v6_only(false), ec);
    acceptor.bind(endpoint, ec);
    if (ec) throw std::system_error(ec, "cannot listen on " + opts.listen_address + " port " + std::to_string(opts.port));
    acceptor.listen(asio::socket_base::max_listen_connections);
  }

  ~impl() {
    // Sessions hold the state; break the cycle so everything is freed.
    std::lock_guard lock(state->mutex);
    state->sessions.clear();
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io), use_tuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || state->stopping) co_return;
        // Out of file descriptors, typically: back off instead of spinning.
        state->log.warn("accept-error", {{"error", ec.message()}});
        asio::steady_timer pause(io, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_tuple);
        continue;
      }
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, http_session(state, beast::tcp_stream(std::move(socket))),
                     report_exception(state));
    }
  }

  void begin_stop() {
    if (state->stopping.exchange(true)) return;
    state->log.info("shutdown", {{"open_connections", std::to_string(state->metrics.connections_open.load())}});
    beast::error_code ignored;
    acceptor.close(ignored);
    std::vector<std::shared_ptr<ws_session>> open;
    {
      std::lock_guard lock(state->mutex);
      for (auto& [id, session] : state->sessions) open.push_back(session);
    }
    for (auto& session : open) session->close(websocket::close_code::going_away, close_reason::shutdown);
    asio::co_spawn(io, drain(), asio::detached);
  }

  // Gives close handshakes a moment, then stops the event loop.
  asio::awaitable<void> drain() {
    auto deadline = clock::now() + state->options.drain_timeout;
    asio::steady_timer tick(io);
    while (state->admitted.load() > 0 && clock::now() < deadline) {
      tick.expires_after(std::chrono::milliseconds(20));
      co_await tick.async_wait(use_tuple);
    }
    io.stop();
  }

  asio::io_context io;
  std::shared_ptr<shared_state> state;
  tcp::acceptor acceptor;
};

signaling_server::signaling_server(sigkit::server::options options, logger& log) : impl_(std::make_unique<impl>(std::move(options), log)) {}
signaling_server::~signaling_server() = default;

std::uint16_t signaling_server::port() const noexcept { return impl_->acceptor.local_endpoint().port(); }

void signaling_server::run(unsigned threads, bool handle_signals) {
  auto& io = impl_->io;
  asio::signal_set signals(io);
  if (handle_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([this](beast::error_code ec, int) {
      if (!ec) impl_->begin_stop();
    });
  }
  asio::co_spawn(io, impl_->accept_loop(), report_exception(impl_->state));
  std::vector<std::thread> pool;
  for (unsigned i = 1; i < std::max(threads, 1u); ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
}

void signaling_server::stop() {
  asio::post(impl_->io, [this] { impl_->begin_stop(); });
}

}  // namespace sigkit::server
