// The server's lifecycle: loops and their listeners, signals, the drain.
#include "sigkit/server/server.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "event_loop.hpp"
#include "listener.hpp"
#include "local_hub.hpp"
#include "redis_hub.hpp"
#include "server_state.hpp"

namespace sigkit::server {

namespace asio = boost::asio;

server_state::server_state(const options& o, logger& l)
    : opts(o),
      log(l),
      origins(o.allowed_origins),
      rate{o.rate_limit, o.rate_burst},
      strikes{o.rate_limit / 2, o.rate_burst * 4},
      joins{o.join_rate, o.join_burst},
      addresses(o.max_connections_per_ip, {o.connection_rate_per_ip, o.connection_burst_per_ip}),
      files(o.static_dir, o.static_max_bytes) {
  if (o.redis_url.empty()) rooms = std::make_unique<local_hub>(o.room_capacity, o.room_history);
  else rooms = std::make_unique<redis_hub>(*this, o.redis_url);
}

struct signaling_server::impl {
  impl(options o, logger& log) : state(o, log) {
    load_token_keys();
    for (const auto& block : state.opts.trusted_proxies) {
      auto c = http::cidr::parse(block);
      if (!c) throw std::invalid_argument(c.error());
      state.trusted_proxies.push_back(*c);
    }
    if (!state.opts.tls_cert.empty() || !state.opts.tls_key.empty()) {
      auto tls = tls_context::load(state.opts.tls_cert, state.opts.tls_key);
      if (!tls) throw std::runtime_error(tls.error());
      state.tls = std::move(*tls);
    }
    const unsigned threads = std::max(1u, state.opts.threads);
    auto sockets = open_listeners(state.opts.listen_address, state.opts.port, threads);
    port = sockets.port;
    addresses = sockets.addresses;
    for (unsigned i = 0; i < threads; ++i) state.loops.push_back(std::make_unique<event_loop>(state, i));
    for (unsigned i = 0; i < threads; ++i)
      for (int fd : sockets.per_loop[i]) state.loops[i]->add_listener(fd);
  }

  event_loop& first() { return *state.loops.front(); }

  // Every key source given, merged; a key that does not load stops the start.
  void load_token_keys() {
    const auto& o = state.opts;
    std::optional<auth::key_set> keys;
    auto add = [&](result<auth::key_set, std::string> more, const std::string& what) {
      if (!more) throw std::runtime_error(what + ": " + more.error());
      if (!keys) {
        keys = std::move(*more);
        return;
      }
      auto merged = auth::key_set::merge(std::move(*keys), std::move(*more));
      if (!merged) throw std::runtime_error(merged.error());
      keys = std::move(*merged);
    };
    if (!o.auth_hs256_secret.empty()) add(auth::key_set::hs256_secret(o.auth_hs256_secret), "--auth-hs256-secret");
    if (!o.auth_public_key_file.empty())
      add(auth::key_set::public_key_pem(read_file(o.auth_public_key_file)), o.auth_public_key_file);
    if (!o.auth_jwks_file.empty()) add(auth::key_set::jwks(read_file(o.auth_jwks_file)), o.auth_jwks_file);
    if (!keys) return;
    state.token_keys = std::move(keys);
    if (!o.auth_issuer.empty()) state.token_rules.issuer = o.auth_issuer;
    if (!o.auth_audience.empty()) state.token_rules.audience = o.auth_audience;
    state.token_rules.leeway = o.auth_leeway;
  }

  static std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return std::move(text).str();
  }

  // SIGHUP: a renewed certificate and key replace the old ones for new
  // connections; live ones keep theirs. A file that does not load is
  // logged and the old pair kept.
  void reload_tls() {
    if (!state.tls) return;
    auto tls = tls_context::load(state.opts.tls_cert, state.opts.tls_key);
    if (!tls) {
      state.log.error("tls-reload-failed", {{"error", tls.error()}});
      return;
    }
    for (auto& loop : state.loops) loop->use_tls(*tls);
    state.log.info("tls-reloaded", {{"cert", state.opts.tls_cert}});
  }

  void wait_for_hangup(asio::signal_set& hangup) {
    hangup.async_wait([this, &hangup](const boost::system::error_code& ec, int) {
      if (ec) return;
      reload_tls();
      wait_for_hangup(hangup);
    });
  }

  // On the first loop's thread.
  void begin_shutdown() {
    if (state.draining.exchange(true)) return;
    state.log.info("shutdown", {{"open_connections", static_cast<std::uint64_t>(state.websockets.load())},
                                {"drain_delay_ms", static_cast<std::int64_t>(state.opts.drain_delay.count())}});
    // Load balancers take a moment to see /readyz fail; until then, serve.
    drain_timer.emplace(first().io());
    drain_timer->expires_after(state.opts.drain_delay);
    drain_timer->async_wait([this](const boost::system::error_code&) {
      state.closing = true;
      for (auto& loop : state.loops) loop->begin_close_all();
    });
  }

  server_state state;
  std::uint16_t port = 0;
  std::vector<std::string> addresses;
  std::optional<asio::steady_timer> drain_timer;
};

signaling_server::signaling_server(options opts, logger& log) : impl_(std::make_unique<impl>(std::move(opts), log)) {}
signaling_server::~signaling_server() = default;

std::uint16_t signaling_server::port() const noexcept { return impl_->port; }
const std::vector<std::string>& signaling_server::addresses() const noexcept { return impl_->addresses; }

void signaling_server::run(bool handle_signals) {
  auto& first = impl_->first();
  std::optional<asio::signal_set> signals, hangup;
  if (handle_signals) {
    signals.emplace(first.io(), SIGINT, SIGTERM);
    signals->async_wait([this](const boost::system::error_code& ec, int) {
      if (!ec) impl_->begin_shutdown();
    });
    hangup.emplace(first.io(), SIGHUP);
    impl_->wait_for_hangup(*hangup);
  }
  impl_->state.rooms->start();
  std::vector<std::thread> others;
  for (std::size_t i = 1; i < impl_->state.loops.size(); ++i)
    others.emplace_back([loop = impl_->state.loops[i].get()] { loop->run(); });
  first.run();
  for (auto& t : others) t.join();
  impl_->state.rooms->stop();
}

void signaling_server::stop() {
  asio::post(impl_->first().io(), [this] { impl_->begin_shutdown(); });
}

}  // namespace sigkit::server
