#include "sigkit/redis/connection.hpp"

#include <array>
#include <string_view>
#include <utility>

#include "session.hpp"
#include "sigkit/resp/writer.hpp"

namespace sigkit::redis {

struct connection::impl final : detail::session {
  using session::session;

  // A replica refuses writes (a server demoted by a failover, or an address
  // that leads to the wrong one): not a server to be up on, so the attempt
  // fails and backs off until the address leads to a primary. A ROLE that is
  // refused (an ACL) proves nothing either way.
  void on_handshake() override {
    static const std::string role_command = resp::encode_command(std::array<std::string_view, 1>{"ROLE"});
    send(role_command, [this](std::error_code ec, resp::value reply) {
      if (ec || reply.what != resp::kind::array || reply.elements.empty()) return;
      const auto& role = reply.elements[0].text;
      if (role == "slave" || role == "sentinel") drop_connection("ROLE: the server is a " + role + ", not the primary");
    });
  }

  void submit(std::string_view encoded, reply_handler handler) {
    if (closed()) return;
    errc refusal = errc::unavailable;
    if (connected()) {
      if (in_flight() < opts().max_in_flight && send(encoded, handler)) return;
      if (connected()) refusal = errc::backlog_full;
    }
    post([handler = std::move(handler), refusal] { handler(make_error_code(refusal), {}); });
  }

  // After NOSCRIPT: SCRIPT LOAD and the same EVALSHA again, pipelined. If the
  // script does not compile, SCRIPT LOAD's error is the one to report (the
  // second EVALSHA can only say NOSCRIPT again).
  void reload_and_retry(const std::shared_ptr<const std::string>& body,
                        const std::shared_ptr<const std::string>& evalsha, reply_handler handler) {
    auto load_error = std::make_shared<resp::value>();
    const std::array<std::string_view, 3> load{"SCRIPT", "LOAD", *body};
    submit(resp::encode_command(load), [load_error](std::error_code ec, resp::value reply) {
      if (ec == errc::server_error) *load_error = std::move(reply);
    });
    submit(*evalsha, [load_error, handler = std::move(handler)](std::error_code ec, resp::value reply) {
      if (ec == errc::server_error && load_error->is_error()) reply = std::move(*load_error);
      handler(ec, std::move(reply));
    });
  }
};

connection::connection(boost::asio::io_context& io, endpoint where, options opts)
    : impl_(std::make_shared<impl>(io, std::move(where), std::move(opts))) {}

connection::~connection() { impl_->close(); }

void connection::start() { impl_->start(); }
void connection::on_state(std::function<void(bool)> handler) { impl_->set_state_handler(std::move(handler)); }
bool connection::connected() const noexcept { return impl_->connected(); }
const std::string& connection::last_error() const noexcept { return impl_->last_error(); }
const counters& connection::stats() const noexcept { return impl_->stats(); }

void connection::command(std::vector<std::string> args, reply_handler handler) {
  impl_->submit(resp::encode_command(args), std::move(handler));
}

void connection::eval(const script& s, std::vector<std::string> keys, std::vector<std::string> args,
                      reply_handler handler) {
  const std::string key_count = std::to_string(keys.size());
  std::vector<std::string_view> argv{"EVALSHA", s.sha1(), key_count};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  auto evalsha = std::make_shared<const std::string>(resp::encode_command(argv));
  // The handler runs inside the session, so `impl` outlives it.
  impl_->submit(*evalsha, [impl = impl_.get(), body = s.body_, evalsha, handler = std::move(handler)](
                              std::error_code ec, resp::value reply) mutable {
    if (ec == errc::server_error && reply.text.starts_with("NOSCRIPT")) {
      impl->reload_and_retry(body, evalsha, std::move(handler));
      return;
    }
    handler(ec, std::move(reply));
  });
}

}  // namespace sigkit::redis
