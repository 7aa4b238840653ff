// One event loop: one thread, one io_context (concurrency hint 1), and the
// connections that live on it for their whole life, so none of their state
// needs a lock.
//
// Asio runs the loop (timers, posts from other loops, signals); the
// connections themselves are plain non-blocking sockets in an epoll set of the
// loop's own, which Asio watches as a single descriptor. That keeps a
// connection free of Asio's per-socket state (about 300 bytes) and its reads
// free of a re-arming system call per message: a pass reads every ready
// socket, runs the protocol, and ends by writing each connection's frames in
// one gathered write and handing other loops their frames in one batch each.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "connection.hpp"
#include "hub.hpp"
#include "send_queue.hpp"
#include "server_state.hpp"
#include "sigkit/log_rate_limit.hpp"
#include "sigkit/metrics/server_metrics.hpp"
#include "sigkit/slot_table.hpp"
#include "sigkit/timer_wheel.hpp"

struct epoll_event;

namespace sigkit::server {

using clock = std::chrono::steady_clock;

// A frame for a connection on another loop.
struct remote_delivery {
  rooms::member_handle to;
  std::shared_ptr<const std::string> frame;
};

class event_loop final : public hub_sink {
 public:
  event_loop(server_state& state, unsigned index);
  ~event_loop();
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;

  unsigned index() const noexcept { return index_; }
  boost::asio::io_context& io() noexcept { return io_; }
  const metrics::loop_metrics& metrics() const noexcept { return metrics_; }

  // Before run(): a listening socket this loop accepts from.
  void add_listener(int fd);
  void run();  // the thread's body; returns once the loop has stopped

  // From any thread.
  void post_deliveries(std::vector<remote_delivery> batch);
  // Runs `f` on this loop for the connection, if it still exists, then reads
  // on from what it had stashed (a static file has been read, say).
  void post_to(rooms::member_handle h, std::function<void(connection&)> f);
  // From any thread: runs f on this loop as a pass of its own (what it
  // sends goes out when it returns), after everything posted before it.
  void post(std::function<void()> f);
  // The loop a member handle belongs to.
  static unsigned loop_of(rooms::member_handle h) noexcept;
  void begin_close_all();  // stop accepting, close every connection (1001), stop when done
  void use_tls(std::shared_ptr<const tls_context> tls);  // new connections get it (a reload)

  // --- for the sessions, on this loop's thread ---------------------------------
  server_state& state() noexcept { return state_; }
  const server_state& state() const noexcept { return state_; }
  metrics::loop_metrics& counters() noexcept { return metrics_; }
  std::uint32_t now() const noexcept { return now_tick_; }            // wheel ticks
  std::uint32_t now_ms() const noexcept { return now_ms_; }           // for rate limits
  clock::time_point now_time() const noexcept { return now_time_; }   // read once per pass
  std::uint32_t ticks(std::chrono::milliseconds d) const noexcept;    // a duration in ticks, rounded up
  rooms::member_handle handle_of(const connection& c) const noexcept;
  connection* find(rooms::member_handle h) noexcept;

  void send(connection& c, outbound item);  // corked until the pass ends
  void schedule(connection& c, std::uint32_t due_tick) noexcept;
  void close_now(connection& c);            // closes the socket and frees the slot
  void shutdown_send(connection& c);        // FIN after what is queued; then wait for the peer's
  void send_now(connection& c, std::string_view bytes) noexcept;  // best effort, bypassing the queue
  void renew_http(connection& c) noexcept;
  // Reads on after a pause (the hub settled): the stash first, then the socket.
  void resume_input(connection& c);
  void leave_http(connection& c) noexcept;  // it upgraded
  void reschedule(connection& c);           // after its deadlines changed
  double seconds_since(std::uint32_t tick) const noexcept;  // a new request: its deadline and place in the eviction order restart
  void note_join_read(clock::time_point read_at) { join_reads_.push_back(read_at); }
  void warn_limited(std::string_view event, std::initializer_list<log_field> fields);

  // hub_sink
  void deliver(rooms::member_handle to, std::shared_ptr<const std::string> frame) override;
  void settle(rooms::member_handle sender, const rooms::outcome& outcome) override;

 private:
  struct listener {
    int fd;
    bool paused = false;
  };

  void watch();
  void on_ready();
  void on_tick();
  void drain_inbox();
  void accept_from(listener& l);
  void open(int fd, const sockaddr_storage& from);
  void on_socket(connection& c, std::uint32_t events);
  void read_from(connection& c);
  ssize_t receive(connection& c, char* buffer, std::size_t size) noexcept;
  void feed(connection& c, std::span<char> bytes);
  void on_deadline(connection& c);
  void end_pass();
  void flush(connection& c);
  void set_write_interest(connection& c, bool on);
  void free_slot(connection& c) noexcept;
  connection& allocate();
  void link_http(connection& c) noexcept;
  void unlink_http(connection& c) noexcept;
  void evict_oldest_http();
  void check_stopped();
  template <class F>
  void guarded(connection& c, F&& f);

  server_state& state_;
  const unsigned index_;
  boost::asio::io_context io_{1};
  int epoll_fd_ = -1;
  boost::asio::posix::stream_descriptor epoll_watch_;
  std::vector<epoll_event> events_;
  std::unique_ptr<char[]> read_buffer_;  // shared by every connection of the loop
  std::unique_ptr<char[]> tls_scratch_;  // one TLS record being written
  std::shared_ptr<const tls_context> tls_;

  // Connections, in chunks that never move; a handle is (loop, slot, generation).
  slot_table<connection> connections_;
  std::size_t live_ = 0;
  // Not-yet-upgraded connections, oldest first (slots, linked through connection::http_*).
  std::uint32_t http_head_ = connection::no_slot, http_tail_ = connection::no_slot;
  std::size_t http_count_ = 0;
  const std::size_t http_share_;  // this loop's part of --max-http-connections

  std::vector<listener> listeners_;

  // Time.
  const std::chrono::milliseconds tick_length_;
  const clock::time_point start_ = clock::now();
  clock::time_point now_time_ = start_;
  std::uint32_t now_tick_ = 0;
  std::uint32_t now_ms_ = 0;
  timer_wheel wheel_;
  boost::asio::steady_timer ticker_;

  // A pass's work: corked frames, connections with something to write, frames
  // for other loops, joins whose reply is being written, reads cut short.
  cork_arena cork_;
  std::vector<rooms::member_handle> dirty_;
  std::vector<std::vector<remote_delivery>> outboxes_;
  std::vector<clock::time_point> join_reads_;
  std::vector<rooms::member_handle> read_again_;

  std::mutex inbox_mutex_;
  std::vector<remote_delivery> inbox_;
  bool inbox_posted_ = false;

  bool closing_all_ = false;
  clock::time_point close_deadline_;
  log_rate_limit warn_limit_;
  metrics::loop_metrics metrics_;
};

}  // namespace sigkit::server
