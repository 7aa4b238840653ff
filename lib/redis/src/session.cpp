#include "session.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string_view>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "backoff.hpp"
#include "sigkit/resp/writer.hpp"

namespace sigkit::redis::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// The read buffer keeps at least this much room for the next read, and goes
// back to this size once a large reply has been read.
constexpr std::size_t read_chunk = 16 * 1024;

std::string encode(std::initializer_list<std::string_view> args) {
  return resp::encode_command(std::span<const std::string_view>(args.begin(), args.size()));
}

// PING's reply: +PONG, or in the subscribed state (RESP2) ["pong", ""].
bool is_pong(const resp::value& v) {
  if (v.what == resp::kind::simple_string) return v.text == "PONG";
  return v.what == resp::kind::array && !v.elements.empty() && v.elements[0].what == resp::kind::bulk_string &&
         v.elements[0].text == "pong";
}

std::string milliseconds(std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; }

}  // namespace

// The stream of each connection is new (a new SSL), and shared with the
// handlers of its operations, which may complete after it was dropped.
struct session::tls_link {
  asio::ssl::context context{asio::ssl::context::tls_client};
  std::shared_ptr<asio::ssl::stream<tcp::socket&>> stream;

  explicit tls_link(const options::tls_files& files) {
    SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
    context.set_verify_mode(asio::ssl::verify_peer);
    boost::system::error_code ec;
    if (files.ca_file.empty()) context.set_default_verify_paths(ec);
    else context.load_verify_file(files.ca_file, ec);
    if (ec) throw std::invalid_argument("TLS CA file " + files.ca_file + ": " + ec.message());
    if (files.cert_file.empty() != files.key_file.empty())
      throw std::invalid_argument("a TLS client certificate needs its key, and a key its certificate");
    if (files.cert_file.empty()) return;
    context.use_certificate_chain_file(files.cert_file, ec);
    if (ec) throw std::invalid_argument("TLS client certificate " + files.cert_file + ": " + ec.message());
    context.use_private_key_file(files.key_file, asio::ssl::context::pem, ec);
    if (ec) throw std::invalid_argument("TLS client key " + files.key_file + ": " + ec.message());
  }
};

session::session(asio::io_context& io, endpoint where, options opts)
    : io_(io),
      endpoint_(std::move(where)),
      options_(std::move(opts)),
      resolver_(io),
      socket_(io),
      tls_(endpoint_.tls ? std::make_unique<tls_link>(options_.tls) : nullptr),
      timer_(io),
      reader_(options_.reply_limits),
      random_(std::random_device{}()) {}

session::~session() = default;

void session::start() {
  if (phase_ != phase::idle) return;
  attempt();
}

void session::close() {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  ++generation_;
  close_socket();
  resolver_.cancel();
  timer_.cancel();
  // Handlers are dropped, but not the state handler, which may be the one
  // running now (it destroyed the owner); no callback runs once closed.
  pending_.clear();
  queued_.clear();
}

void session::post(std::function<void()> f) {
  asio::post(io_, [self = shared_from_this(), f = std::move(f)] {
    if (!self->closed()) f();
  });
}

// ---- Connecting -------------------------------------------------------------------

void session::attempt() {
  phase_ = phase::resolving;
  ++generation_;
  connect_deadline_ = clock::now() + options_.connect_timeout;
  rearm(connect_deadline_);
  reader_.reset();
  read_size_ = 0;
  next_element_ = 0;

  // An address needs no resolver (whose getaddrinfo() runs on a thread of
  // Asio's own); a name is resolved asynchronously, within the deadline.
  boost::system::error_code not_an_address;
  const auto address = asio::ip::make_address(endpoint_.host, not_an_address);
  if (!not_an_address) {
    connect_to({tcp::endpoint(address, endpoint_.port)});
    return;
  }
  resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                          [self = shared_from_this(), generation = generation_](
                              const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
                            if (generation != self->generation_) return;
                            if (ec) {
                              self->drop("resolve " + self->endpoint_.host + ": " + ec.message());
                              return;
                            }
                            std::vector<tcp::endpoint> where;
                            for (const auto& r : results) where.push_back(r.endpoint());
                            self->connect_to(std::move(where));
                          });
}

void session::connect_to(std::vector<tcp::endpoint> where) {
  phase_ = phase::connecting;
  asio::async_connect(socket_, where,
                      [self = shared_from_this(), generation = generation_](const boost::system::error_code& ec,
                                                                             const tcp::endpoint&) {
                        if (generation != self->generation_) return;
                        if (ec) {
                          self->drop("connect to " + self->endpoint_.to_string() + ": " + ec.message());
                          return;
                        }
                        if (self->tls_) self->start_tls();
                        else self->on_connected();
                      });
}

void session::start_tls() {
  auto stream = std::make_shared<asio::ssl::stream<tcp::socket&>>(socket_, tls_->context);
  tls_->stream = stream;
  // OpenSSL checks the name itself, so that a mismatch is reported as one.
  SSL* ssl = stream->native_handle();
  boost::system::error_code not_an_address;
  asio::ip::make_address(endpoint_.host, not_an_address);
  const bool named = not_an_address ? SSL_set_tlsext_host_name(ssl, endpoint_.host.c_str()) == 1 &&
                                          SSL_set1_host(ssl, endpoint_.host.c_str()) == 1
                                    : X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), endpoint_.host.c_str()) == 1;
  if (!named) return drop("TLS: cannot check the certificate for " + endpoint_.host);
  stream->async_handshake(asio::ssl::stream_base::client, [self = shared_from_this(), stream,
                                                           generation = generation_](const boost::system::error_code& ec) {
    if (generation != self->generation_) return;
    if (ec) {
      std::string why = "TLS handshake with " + self->endpoint_.to_string() + ": " + ec.message();
      const long verified = SSL_get_verify_result(stream->native_handle());
      if (verified != X509_V_OK) why += std::string(" (") + X509_verify_cert_error_string(verified) + ")";
      self->drop(std::move(why));
      return;
    }
    self->on_connected();
  });
}

void session::close_socket() {
  boost::system::error_code ignored;
  socket_.close(ignored);
  if (tls_) tls_->stream.reset();  // its handlers keep it until they have run
}

void session::on_connected() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  phase_ = phase::handshaking;
  last_read_ = clock::now();

  // The whole handshake in one write; connected once its last reply is in.
  writing_handshake_ = true;
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) send_handshake("AUTH", encode({"AUTH", endpoint_.password}));
    else send_handshake("AUTH", encode({"AUTH", endpoint_.user, endpoint_.password}));
  }
  if (endpoint_.db != 0) send_handshake("SELECT", encode({"SELECT", std::to_string(endpoint_.db)}));
  if (!options_.client_name.empty())
    send_handshake("CLIENT SETNAME", encode({"CLIENT", "SETNAME", options_.client_name}));
  on_handshake();
  // Also proves that the server answers, that no AUTH was missing (NOAUTH),
  // and that it is Redis: a socket that echoes, such as one TCP connected
  // to itself (a server's port in the ephemeral range, retried while the
  // server is down), would answer with the PING itself.
  send_handshake("PING", encode({"PING"}), [this](std::error_code, resp::value reply) {
    if (!is_pong(reply)) drop_connection("PING: not a Redis reply: " + resp::to_string(reply));
  });
  writing_handshake_ = false;
  flush();
  read();
}

void session::send_handshake(std::string label, std::string_view encoded, reply_fn on_reply) {
  if (!send(encoded, std::move(on_reply))) return;
  pending_.back().handshake_label = std::move(label);
  pending_.back().deadline = connect_deadline_;
  ++handshake_left_;
}

void session::become_up() {
  phase_ = phase::up;
  attempt_ = 0;
  ++stats_.connects;
  // The timer was set for the connect deadline; now it serves commands and the idle ping.
  if (!pending_.empty()) rearm(pending_.front().deadline);
  else if (options_.idle_ping.count() > 0) rearm(last_read_ + options_.idle_ping);
  notify_state(true);
}

void session::notify_state(bool up) {
  if (state_handler_ && !closed()) state_handler_(up);
}

void session::drop_connection(std::string why) { drop(std::move(why), errc::protocol); }

void session::drop(std::string why, errc oldest) {
  if (phase_ == phase::closed || phase_ == phase::backing_off) return;
  const bool was_up = phase_ == phase::up;
  last_error_ = std::move(why);
  ++generation_;
  close_socket();
  resolver_.cancel();
  writing_ = false;
  queued_.clear();
  read_size_ = 0;
  handshake_left_ = 0;
  reader_.reset();
  if (was_up) ++stats_.disconnects;
  else ++stats_.failed_attempts;

  phase_ = phase::backing_off;
  retry_at_ = clock::now() + backoff_delay(attempt_++, options_.backoff_initial, options_.backoff_max, random_);
  rearm(retry_at_);

  // Handlers last: they may call in again, and find the session down.
  auto lost = std::move(pending_);
  pending_.clear();
  for (auto& p : lost) {
    if (phase_ == phase::closed) return;
    const errc why_this = std::exchange(oldest, errc::connection_lost);
    if (p.handshake_label.empty() && p.on_reply) p.on_reply(make_error_code(why_this), {});
  }
  if (was_up && phase_ != phase::closed) notify_state(false);
}

// ---- Commands and replies -------------------------------------------------------

bool session::send(std::string_view encoded, reply_fn on_reply) {
  if (!socket_open()) return false;
  pending_.push_back({std::move(on_reply), clock::now() + options_.command_timeout, {}});
  queued_.append(encoded);
  if (phase_ == phase::up) arm_by(pending_.back().deadline);
  if (!writing_handshake_) flush();
  return true;
}

void session::flush() {
  if (writing_ || queued_.empty()) return;
  writing_ = true;
  // The batch belongs to the write until it completes, even if the socket is
  // closed and another one opened meanwhile.
  auto batch = std::make_shared<std::string>(std::move(queued_));
  queued_.clear();
  auto stream = tls_ ? tls_->stream : nullptr;
  auto done = [self = shared_from_this(), batch, stream, generation = generation_](const boost::system::error_code& ec,
                                                                                    std::size_t) {
    if (generation != self->generation_) return;
    self->writing_ = false;
    if (ec) {
      self->drop("write to Redis: " + ec.message());
      return;
    }
    self->flush();
  };
  if (stream) asio::async_write(*stream, asio::buffer(*batch), std::move(done));
  else asio::async_write(socket_, asio::buffer(*batch), std::move(done));
}

void session::read() {
  const std::size_t want = std::max(read_size_ + read_chunk, next_element_);
  if (read_buffer_.size() < want) read_buffer_.resize(want);
  const auto into = asio::buffer(read_buffer_.data() + read_size_, read_buffer_.size() - read_size_);
  auto stream = tls_ ? tls_->stream : nullptr;
  auto done = [self = shared_from_this(), stream, generation = generation_](const boost::system::error_code& ec,
                                                                             std::size_t n) {
    self->on_read(generation, ec, n);
  };
  if (stream) stream->async_read_some(into, std::move(done));
  else socket_.async_read_some(into, std::move(done));
}

void session::on_read(std::uint64_t generation, const boost::system::error_code& ec, std::size_t n) {
  if (generation != generation_) return;
  if (ec) {
    // Over TLS, a close without close_notify is stream_truncated.
    const bool closed = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
    drop(closed ? "Redis closed the connection" : "read from Redis: " + ec.message());
    return;
  }
  read_size_ += n;
  last_read_ = clock::now();
  std::size_t at = 0;
  for (;;) {
    std::size_t consumed = 0;
    auto e = reader_.next(std::span<const char>(read_buffer_.data() + at, read_size_ - at), consumed);
    at += consumed;
    if (e.what == resp::reader::event::kind::need_more) {
      next_element_ = e.element_bytes;
      break;
    }
    if (e.what == resp::reader::event::kind::fail) {
      drop("protocol error from Redis: " + std::string(e.why), errc::protocol);
      return;
    }
    dispatch(std::move(e.value));
    // A handler may have dropped the connection or closed the session.
    if (generation != generation_) return;
  }
  // The timer may still be set for the deadline of a command just answered,
  // later than the idle ping is due when idle_ping < command_timeout.
  if (phase_ == phase::up && pending_.empty() && options_.idle_ping.count() > 0)
    arm_by(last_read_ + options_.idle_ping);
  read_size_ -= at;
  if (read_size_ != 0) std::memmove(read_buffer_.data(), read_buffer_.data() + at, read_size_);
  else if (read_buffer_.size() > 4 * read_chunk) read_buffer_ = std::vector<char>(read_chunk);
  read();
}

void session::dispatch(resp::value v) {
  if (on_push(v)) return;
  if (pending_.empty()) {
    drop("Redis sent a reply to no command: " + resp::to_string(v), errc::protocol);
    return;
  }
  pending p = std::move(pending_.front());
  pending_.pop_front();
  const std::error_code ec = v.is_error() ? make_error_code(errc::server_error) : std::error_code{};
  if (p.handshake_label.empty()) {
    // The server was demoted to a replica (a failover): the name or address
    // we were given now leads, or soon will, to the new primary, and only a
    // new connection finds it.
    const bool demoted = ec && v.text.starts_with("READONLY");
    if (p.on_reply) p.on_reply(ec, std::move(v));
    if (demoted && phase_ == phase::up) drop("Redis answered READONLY: it is a replica now; connecting again");
    return;
  }
  // A handshake command: any error fails the attempt (WRONGPASS, NOAUTH, a database out of range).
  if (ec) {
    drop(p.handshake_label + ": " + v.text);
    return;
  }
  if (p.on_reply) p.on_reply(ec, std::move(v));
  // The handler may have dropped the connection (a SUBSCRIBE answered with
  // something else), which zeroed the count: it must not go below zero.
  if (phase_ != phase::handshaking) return;
  if (--handshake_left_ == 0) become_up();
}

// ---- The timer ------------------------------------------------------------------

void session::rearm(clock::time_point at) {
  timer_.expires_at(at);  // a wait in progress completes with operation_aborted
  const std::uint64_t generation = ++timer_generation_;
  timer_armed_ = true;
  timer_.async_wait([self = shared_from_this(), generation](const boost::system::error_code& ec) {
    if (ec || generation != self->timer_generation_ || self->closed()) return;
    self->timer_armed_ = false;
    self->on_timer();
  });
}

void session::arm_by(clock::time_point at) {
  if (!timer_armed_ || at < timer_.expiry()) rearm(at);
}

void session::on_timer() {
  const auto now = clock::now();
  switch (phase_) {
    case phase::resolving:
    case phase::connecting:
    case phase::handshaking:
      if (now < connect_deadline_) return rearm(connect_deadline_);
      return drop("connect to " + endpoint_.to_string() + " timed out after " +
                                                      milliseconds(options_.connect_timeout));
    case phase::up:
      if (!pending_.empty()) {
        if (now < pending_.front().deadline) return rearm(pending_.front().deadline);
        ++stats_.timeouts;
        return drop("Redis did not answer within " + milliseconds(options_.command_timeout), errc::timeout);
      }
      if (options_.idle_ping.count() <= 0) return;
      if (now < last_read_ + options_.idle_ping) return rearm(last_read_ + options_.idle_ping);
      send(encode({"PING"}), {});  // arms the timer for its deadline
      return;
    case phase::backing_off:
      if (now < retry_at_) return rearm(retry_at_);
      return attempt();
    case phase::idle:
    case phase::closed: return;
  }
}

}  // namespace sigkit::redis::detail
