#include "sigkit/redis/subscriber.hpp"

#include <array>
#include <set>
#include <string_view>
#include <utility>

#include "session.hpp"
#include "sigkit/resp/writer.hpp"

namespace sigkit::redis {

namespace {

std::string encode(std::string_view command, std::string_view channel) {
  const std::array<std::string_view, 2> args{command, channel};
  return resp::encode_command(args);
}

// RESP2 pub/sub: SUBSCRIBE and UNSUBSCRIBE are answered, one channel at a
// time, with [kind, channel, count]; a message is ["message", channel, payload].
bool is_confirmation(const resp::value& v, std::string_view kind) {
  return v.what == resp::kind::array && v.elements.size() == 3 && v.elements[0].what == resp::kind::bulk_string &&
         v.elements[0].text == kind;
}

}  // namespace

struct subscriber::impl final : detail::session {
  using session::session;
  using session::send;

  std::set<std::string, std::less<>> channels;
  message_handler on_message;

  // Every channel again, on every connect: on_state(true) waits for them.
  void on_handshake() override {
    for (const auto& channel : channels)
      send_handshake("SUBSCRIBE " + channel, encode("SUBSCRIBE", channel), confirm("subscribe", {}));
  }

  bool on_push(resp::value& v) override {
    if (v.what != resp::kind::array || v.elements.empty() || v.elements[0].what != resp::kind::bulk_string)
      return false;
    const std::string& kind = v.elements[0].text;
    if (kind == "message" && v.elements.size() == 3) {
      const std::string& channel = v.elements[1].text;
      if (on_message && channels.contains(channel)) on_message(channel, std::move(v.elements[2].text));
      return true;
    }
    return kind == "pmessage";  // never subscribed to, but never a reply either
  }

  detail::reply_fn confirm(std::string_view kind, done_handler done) {
    return [this, kind, done = std::move(done)](std::error_code ec, resp::value reply) {
      if (!ec && !is_confirmation(reply, kind)) {
        drop_connection("Redis answered " + std::string(kind) + " with " + resp::to_string(reply));
        ec = make_error_code(errc::protocol);
      }
      if (done) done(ec);
    };
  }

  void fail_later(done_handler done, errc e) {
    if (done) post([done = std::move(done), e] { done(make_error_code(e)); });
  }
};

subscriber::subscriber(boost::asio::io_context& io, endpoint where, options opts)
    : impl_(std::make_shared<impl>(io, std::move(where), std::move(opts))) {}

subscriber::~subscriber() { impl_->close(); }

void subscriber::start() { impl_->start(); }
void subscriber::on_message(message_handler handler) { impl_->on_message = std::move(handler); }
void subscriber::on_state(std::function<void(bool)> handler) { impl_->set_state_handler(std::move(handler)); }
bool subscriber::connected() const noexcept { return impl_->connected(); }
const std::string& subscriber::last_error() const noexcept { return impl_->last_error(); }
const counters& subscriber::stats() const noexcept { return impl_->stats(); }

void subscriber::subscribe(std::string channel, done_handler done) {
  const std::string encoded = encode("SUBSCRIBE", channel);
  impl_->channels.insert(std::move(channel));
  if (!impl_->send(encoded, impl_->confirm("subscribe", done))) impl_->fail_later(std::move(done), errc::unavailable);
}

void subscriber::unsubscribe(const std::string& channel) {
  if (impl_->channels.erase(channel) == 0) return;
  impl_->send(encode("UNSUBSCRIBE", channel), impl_->confirm("unsubscribe", {}));
}

void subscriber::ping(done_handler done) {
  if (!impl_->connected()) return impl_->fail_later(std::move(done), errc::unavailable);
  const std::array<std::string_view, 1> ping{"PING"};
  impl_->send(resp::encode_command(ping), [done = std::move(done)](std::error_code ec, resp::value) {
    if (done) done(ec);
  });
}

}  // namespace sigkit::redis
