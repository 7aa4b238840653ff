// What redis::connection and redis::subscriber share: one TCP connection at
// a time to one server, re-established after every failure, with the
// replies of pipelined commands matched in order.
//
//   idle --start()--> resolving --> connecting --> handshaking --> up
//                        |              |              |           |
//                        +--------------+-- failure ---+-----------+
//                                           |
//                                      backing_off --(delay)--> resolving
//
// One timer serves every phase: the connect deadline, the deadline of the
// oldest command awaiting its reply (deadlines are in the order of the
// commands, as replies are), the idle PING, and the wait before the next
// attempt. It is armed lazily: when it fires it checks the real deadline and
// arms itself again if that is not yet due.
//
// With rediss:// a TLS handshake (the server's certificate checked against
// the CA file or the system's store, and against the host) comes between TCP
// and Redis' handshake, within the same connect deadline.
//
// A session is owned through a shared_ptr: every asynchronous operation holds
// one, so closing the session (the owner's destructor) is safe while
// operations are in progress. Operations of an earlier socket, completing
// late, are told apart by a generation number.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/error.hpp"
#include "sigkit/redis/options.hpp"
#include "sigkit/resp/reader.hpp"
#include "sigkit/resp/value.hpp"

namespace sigkit::redis::detail {

using clock = std::chrono::steady_clock;
using reply_fn = std::function<void(std::error_code, resp::value)>;

class session : public std::enable_shared_from_this<session> {
 public:
  session(boost::asio::io_context& io, endpoint where, options opts);
  virtual ~session();
  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start();
  // Closes the socket and drops every handler: no callback runs after this.
  void close();

  void set_state_handler(std::function<void(bool)> handler) { state_handler_ = std::move(handler); }
  bool connected() const noexcept { return phase_ == phase::up; }
  const std::string& last_error() const noexcept { return last_error_; }
  const counters& stats() const noexcept { return stats_; }

 protected:
  // Writes one encoded command whose one reply goes to `on_reply` (which may
  // be empty). Only while the socket is open (handshaking or up): false
  // otherwise, and nothing is sent.
  bool send(std::string_view encoded, reply_fn on_reply);
  bool socket_open() const noexcept { return phase_ == phase::handshaking || phase_ == phase::up; }
  std::size_t in_flight() const noexcept { return pending_.size(); }
  bool closed() const noexcept { return phase_ == phase::closed; }
  const options& opts() const noexcept { return options_; }

  // Runs `f` on the loop later, unless the session is closed by then.
  void post(std::function<void()> f);

  // Called while the handshake is being written, after AUTH, SELECT and
  // CLIENT SETNAME: more commands for it, through send_handshake().
  virtual void on_handshake() {}
  void send_handshake(std::string label, std::string_view encoded, reply_fn on_reply = {});
  // A value that answers no command (a pub/sub message): true if taken.
  virtual bool on_push(resp::value&) { return false; }
  // For a reply that is not what its command must get: the connection is
  // out of step, so it is dropped (and re-established).
  void drop_connection(std::string why);

 private:
  enum class phase : std::uint8_t { idle, resolving, connecting, handshaking, up, backing_off, closed };

  struct pending {
    reply_fn on_reply;
    clock::time_point deadline;
    std::string handshake_label;  // a handshake command: its name, for the error; else empty
  };

  struct tls_link;  // rediss://: the context, and the stream over socket_

  void attempt();
  void connect_to(std::vector<boost::asio::ip::tcp::endpoint> where);
  void start_tls();
  void on_connected();
  void close_socket();
  void become_up();
  // Drops the connection and backs off to retry. The commands awaiting
  // replies fail with connection_lost, but for the oldest, which fails with
  // `oldest` (timeout when its deadline passed, protocol when its reply was
  // malformed).
  void drop(std::string why, errc oldest = errc::connection_lost);
  void notify_state(bool up);

  void read();
  void on_read(std::uint64_t generation, const boost::system::error_code& ec, std::size_t n);
  void dispatch(resp::value v);
  void flush();

  void on_timer();
  void rearm(clock::time_point at);
  void arm_by(clock::time_point at);

  boost::asio::io_context& io_;
  endpoint endpoint_;
  options options_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<tls_link> tls_;  // null for redis://
  boost::asio::steady_timer timer_;

  phase phase_ = phase::idle;
  std::uint64_t generation_ = 0;  // of the socket: bumped whenever it is closed
  std::uint64_t timer_generation_ = 0;
  bool timer_armed_ = false;

  resp::reader reader_;
  std::vector<char> read_buffer_;
  std::size_t read_size_ = 0;
  std::size_t next_element_ = 0;  // the reader's hint: the size of the bulk string begun
  std::string queued_;            // commands not yet written
  bool writing_ = false;
  std::deque<pending> pending_;   // written or queued, awaiting replies, oldest first
  std::size_t handshake_left_ = 0;
  bool writing_handshake_ = false;

  clock::time_point connect_deadline_{};
  clock::time_point retry_at_{};
  clock::time_point last_read_{};
  unsigned attempt_ = 0;  // failures since the last handshake completed
  std::minstd_rand random_;

  std::function<void(bool)> state_handler_;
  std::string last_error_;
  counters stats_;
};

}  // namespace sigkit::redis::detail
