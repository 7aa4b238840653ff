#include "event_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include "http_session.hpp"
#include "websocket_session.hpp"

namespace sigkit::server {
namespace {

namespace asio = boost::asio;

// member_handle: | loop (12 bits) | generation (26 bits) | slot (26 bits) |
constexpr unsigned slot_bits = 26;
constexpr unsigned generation_bits = 26;
constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
constexpr std::uint64_t generation_mask = (std::uint64_t{1} << generation_bits) - 1;
constexpr std::uint64_t listener_tag = std::uint64_t{1} << 63;  // epoll data of a listening socket

constexpr std::size_t read_buffer_size = 64 * 1024;
constexpr std::size_t max_events = 256;           // per epoll_wait
constexpr int reads_per_pass = 8;                 // then the connection waits its turn
constexpr std::size_t tls_scratch_size = 16 * 1024;  // one TLS record

std::uint64_t local_key(const connection& c) noexcept {
  return (std::uint64_t{c.generation} & generation_mask) << slot_bits | c.slot;
}

// Ticks short enough for the tightest deadline configured, long enough that
// an idle loop wakes rarely: a tenth of the shortest, within 5 ms and 250 ms.
std::chrono::milliseconds tick_for(const options& o) {
  std::chrono::milliseconds shortest = o.handshake_timeout;
  for (auto d : {o.ping_interval, o.ping_timeout, o.write_timeout})
    if (d.count() > 0) shortest = std::min(shortest, d);
  return std::clamp(shortest / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

}  // namespace

event_loop::event_loop(server_state& state, unsigned index)
    : state_(state),
      index_(index),
      epoll_watch_(io_),
      events_(max_events),
      read_buffer_(std::make_unique<char[]>(read_buffer_size)),
      tls_scratch_(state.tls ? std::make_unique<char[]>(tls_scratch_size) : nullptr),
      tls_(state.tls),
      http_share_(std::max<std::size_t>(1, (state.opts.max_http_connections + std::max(1u, state.opts.threads) - 1) /
                                              std::max(1u, state.opts.threads))),
      tick_length_(tick_for(state.opts)),
      wheel_(1024),
      ticker_(io_),
      warn_limit_(10, std::chrono::seconds(1)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
  epoll_watch_.assign(epoll_fd_);
}

event_loop::~event_loop() {
  connections_.for_each([](connection& c) {
    if (c.fd >= 0) ::close(c.fd);
  });
  for (auto& l : listeners_) ::close(l.fd);
  boost::system::error_code ignored;
  epoll_watch_.close(ignored);  // closes epoll_fd_
}

void event_loop::add_listener(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;  // level-triggered: an accept batch may stop early
  ev.data.u64 = listener_tag | listeners_.size();
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::system_category(), "epoll_ctl(listener)");
  listeners_.push_back({fd});
}

void event_loop::run() {
  outboxes_.resize(state_.loops.size());
  watch();
  ticker_.expires_after(tick_length_);
  ticker_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_tick();
  });
  // A handler that throws past its connection's guard (a bug) is logged and
  // the loop goes on: one connection's trouble never stops the others'.
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      state_.log.error("internal-error", {{"loop", index_}, {"what", e.what()}});
    }
  }
}

std::uint32_t event_loop::ticks(std::chrono::milliseconds d) const noexcept {
  return static_cast<std::uint32_t>((d + tick_length_ - std::chrono::milliseconds(1)) / tick_length_);
}

rooms::member_handle event_loop::handle_of(const connection& c) const noexcept {
  return std::uint64_t{index_} << (slot_bits + generation_bits) | local_key(c);
}

connection* event_loop::find(rooms::member_handle h) noexcept {
  auto slot = static_cast<std::uint32_t>(h & slot_mask);
  if ((h >> (slot_bits + generation_bits)) != index_ || !connections_.holds(slot)) return nullptr;
  auto& c = connections_[slot];
  if (c.state == connection::phase::free || (c.generation & generation_mask) != ((h >> slot_bits) & generation_mask))
    return nullptr;
  return &c;
}

// --- the loop ---------------------------------------------------------------------

void event_loop::watch() {
  epoll_watch_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
    if (!ec) on_ready();
  });
}

template <class F>
void event_loop::guarded(connection& c, F&& f) {
  // The unexpected (a bug, or memory running out) ends this connection, not
  // the process, and never skips its departure from the room.
  auto generation = c.generation;
  try {
    f();
  } catch (const std::exception& e) {
    state_.log.error("internal-error", {{"peer", c.peer}, {"what", e.what()}});
    if (c.generation != generation || c.state == connection::phase::free) return;
    try {
      if (!c.peer.empty() && c.state == connection::phase::websocket)
        websocket_session::drop(*this, c, websocket::close_code::internal_error, metrics::close_reason::internal_error);
      else
        close_now(c);
    } catch (...) {
      close_now(c);
    }
  }
}

// Runs `f` when a handler ends, however it ends: a loop must re-arm its
// watch and its ticker even after an exception escaped a connection's guard.
template <class F>
struct at_exit {
  F f;
  ~at_exit() { f(); }
};
template <class F>
at_exit(F) -> at_exit<F>;

void event_loop::on_ready() {
  at_exit rearm{[this] { watch(); }};
  now_time_ = clock::now();
  now_ms_ = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now_time_ - start_).count());
  int n = ::epoll_wait(epoll_fd_, events_.data(), static_cast<int>(events_.size()), 0);
  for (int i = 0; i < n; ++i) {
    auto key = events_[i].data.u64;
    if (key & listener_tag) {
      accept_from(listeners_[key & ~listener_tag]);
      continue;
    }
    auto slot = static_cast<std::uint32_t>(key & slot_mask);
    auto& c = connections_[slot];
    // The slot may have been freed, or even reused, earlier in this pass.
    if (c.state == connection::phase::free || local_key(c) != key) continue;
    guarded(c, [&] { on_socket(c, events_[i].events); });
  }
  end_pass();
}

void event_loop::on_socket(connection& c, std::uint32_t events) {
  auto generation = c.generation;
  bool read = events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR);
  if (events & EPOLLOUT) {
    // A TLS session that had to write before reading on (its handshake)
    // reads again now.
    if (c.tls_wants_write) {
      c.tls_wants_write = false;
      read = true;
      if (!c.out.rest) set_write_interest(c, false);
    }
    if (c.out.rest) flush(c);
  }
  if (c.generation != generation || c.state == connection::phase::free) return;
  if (read) read_from(c);
}

ssize_t event_loop::receive(connection& c, char* buffer, std::size_t size) noexcept {
  if (!c.tls) {
    for (;;) {
      ssize_t n = ::recv(c.fd, buffer, size, 0);
      if (n >= 0 || errno != EINTR) return n;
    }
  }
  bool wants_write = false;
  ssize_t n = tls_receive(c.tls, buffer, size, wants_write);
  if (wants_write) {
    c.tls_wants_write = true;
    if (!c.write_interest) set_write_interest(c, true);
  }
  return n;
}

void event_loop::read_from(connection& c) {
  const auto generation = c.generation;
  for (int round = 0; round < reads_per_pass; ++round) {
    // Paused: the kernel holds the bytes (and the peer's window fills) until
    // the hub has answered; resume_input() reads on.
    if (c.awaiting_hub) return;
    ssize_t n = receive(c, read_buffer_.get(), read_buffer_size);
    if (n > 0) {
      feed(c, {read_buffer_.get(), static_cast<std::size_t>(n)});
      if (c.generation != generation || c.state == connection::phase::free) return;
      // Drained: the next edge will come. (A TLS session hands out one
      // record at a time and may hold more: read it until it would block.)
      if (!c.tls && static_cast<std::size_t>(n) < read_buffer_size) return;
      continue;
    }
    if (n == 0) {
      c.eof = true;
      switch (c.state) {
        case connection::phase::http: http_session::on_eof(*this, c); break;
        case connection::phase::websocket: websocket_session::on_eof(*this, c); break;
        default: close_now(c); break;
      }
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == EPROTONOSUPPORT) {
      // Plain HTTP to the TLS port: say so in plain HTTP, as a person
      // typing http:// would want, then go.
      static constexpr std::string_view answer =
          "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 46\r\n"
          "Connection: close\r\n\r\nthis port speaks HTTPS: use https:// or wss://";
      [[maybe_unused]] auto sent = ::send(c.fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    c.set_reason(metrics::close_reason::network_error);
    close_now(c);
    return;
  }
  // Busy peer: let the others have their turn, then read it again.
  read_again_.push_back(handle_of(c));
}

void event_loop::feed(connection& c, std::span<char> fresh) {
  const auto generation = c.generation;
  const bool stashed = !c.input.empty();
  if (stashed) c.input.append({fresh.data(), fresh.size()});
  std::span<char> data = stashed ? c.input.bytes() : fresh;
  std::size_t pos = 0;
  while (pos < data.size()) {
    auto before = c.state;
    std::size_t used = 0;
    switch (c.state) {
      case connection::phase::http: used = http_session::consume(*this, c, data.subspan(pos)); break;
      case connection::phase::websocket: used = websocket_session::consume(*this, c, data.subspan(pos)); break;
      case connection::phase::closing:
        // A WebSocket waits for the peer's close frame; HTTP just drains.
        used = c.peer.empty() ? data.size() - pos : websocket_session::consume(*this, c, data.subspan(pos));
        break;
      case connection::phase::free: return;
    }
    if (c.generation != generation || c.state == connection::phase::free) return;
    pos += used;
    if (used == 0 && c.state == before) break;  // the rest has not arrived yet
  }
  if (stashed) c.input.consume(pos);
  else if (pos < data.size()) c.input.append({data.data() + pos, data.size() - pos});
}

void event_loop::on_tick() {
  at_exit rearm{[this] {
    ticker_.expires_at(start_ + tick_length_ * (now_tick_ + 1));
    ticker_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) on_tick();
    });
  }};
  now_time_ = clock::now();
  now_ms_ = static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(now_time_ - start_).count());
  now_tick_ = static_cast<std::uint32_t>((now_time_ - start_) / tick_length_);
  wheel_.advance(now_tick_, [this](timer_wheel::entry& e) {
    auto& c = static_cast<connection&>(e);
    guarded(c, [&] { on_deadline(c); });
  });
  // Addresses that have gone quiet are forgotten, now and then.
  if (index_ == 0 && state_.addresses.enabled() && now_tick_ % ticks(std::chrono::seconds(10)) == 0)
    state_.addresses.sweep(server_state::now_ms());
  // Listeners paused for want of descriptors try again.
  for (auto& l : listeners_) {
    if (!l.paused || closing_all_) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = listener_tag | static_cast<std::uint64_t>(&l - listeners_.data());
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.fd, &ev) == 0) l.paused = false;
  }
  if (closing_all_ && now_time_ >= close_deadline_) {
    // The drain timeout is over: whoever has not finished the close handshake goes now.
    connections_.for_each([this](connection& c) {
      if (c.state == connection::phase::free) return;
      c.set_reason(metrics::close_reason::shutdown);
      close_now(c);
    });
  }
  end_pass();
}

void event_loop::on_deadline(connection& c) {
  const auto generation = c.generation;
  switch (c.state) {
    case connection::phase::http: http_session::on_deadline(*this, c); break;
    case connection::phase::websocket: websocket_session::on_deadline(*this, c); break;
    case connection::phase::closing:
      if (now_tick_ - c.phase_since >= ticks(state_.opts.handshake_timeout)) close_now(c);
      break;
    case connection::phase::free: return;
  }
  if (c.generation == generation && c.state != connection::phase::free) reschedule(c);
}

void event_loop::reschedule(connection& c) {
  std::uint32_t due = 0;
  switch (c.state) {
    case connection::phase::http: due = http_session::deadline(*this, c); break;
    case connection::phase::websocket: due = websocket_session::deadline(*this, c); break;
    case connection::phase::closing: due = c.phase_since + ticks(state_.opts.handshake_timeout); break;
    case connection::phase::free: return;
  }
  schedule(c, due);
}

void event_loop::schedule(connection& c, std::uint32_t due_tick) noexcept {
  // Ticks are 32-bit on the connection (years at 5 ms) and 64-bit in the wheel.
  wheel_.schedule(c, due_tick);
}

// --- accepting ----------------------------------------------------------------------

void event_loop::accept_from(listener& l) {
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    int fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&from), &length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      open(fd, from);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the listener stays readable, and accepting again
      // at once would spin. Rest it until the next tick.
      epoll_event ev{};
      ev.data.u64 = listener_tag | static_cast<std::uint64_t>(&l - listeners_.data());
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, l.fd, &ev);
      l.paused = true;
      warn_limited("accept-error", {{"error", std::strerror(errno)}});
    }
    return;  // EAGAIN, or paused
  }
}

void event_loop::open(int fd, const sockaddr_storage& from) {
  if (closing_all_) {
    ::close(fd);
    return;
  }
  auto& c = allocate();
  c.fd = fd;
  if (tls_ && !(c.tls = tls_->accept(fd))) {
    free_slot(c);
    ::close(fd);
    return;
  }
  c.state = connection::phase::http;
  c.remote = peer_address::from(from);
  c.phase_since = now_tick_;
  epoll_event ev{};
  // Edge-triggered: one wakeup per arrival, and no system call to re-arm.
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = local_key(c);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    free_slot(c);
    ::close(fd);
    return;
  }
  ++live_;
  metrics_.http_opened.add();
  // Each loop keeps its share of --max-http-connections, so the connection
  // that makes room is always one of this loop's and never the newcomer.
  if (http_count_ >= http_share_) evict_oldest_http();
  link_http(c);
  reschedule(c);
}

connection& event_loop::allocate() { return connections_.allocate(); }

void event_loop::free_slot(connection& c) noexcept {
  c.unlink();
  discard(c.out);
  c.tls = nullptr;
  c.tls_wants_write = false;
  c.address_counted = false;
  c.awaiting_hub = c.in_hub_call = false;
  c.input.release();
  c.reader = websocket::reader(websocket::role::server, 0);
  std::string().swap(c.peer);
  std::string().swap(c.room);
  c.grant.reset();
  c.fd = -1;
  c.state = connection::phase::free;
  c.eof = c.close_when_flushed = c.waiting_for_file = c.reason_set = c.dirty = c.write_interest = false;
  c.reason = metrics::close_reason::network_error;
  c.requests = c.scanned = 0;
  c.http_prev = c.http_next = connection::no_slot;
  ++c.generation;  // handles to the old connection now miss
  connections_.release(c);
}

// --- the oldest-first list of connections not yet upgraded ---------------------------

void event_loop::link_http(connection& c) noexcept {
  ++http_count_;
  c.http_prev = http_tail_;
  c.http_next = connection::no_slot;
  if (http_tail_ != connection::no_slot) connections_[http_tail_].http_next = c.slot;
  else http_head_ = c.slot;
  http_tail_ = c.slot;
}

void event_loop::unlink_http(connection& c) noexcept {
  if (c.http_prev == connection::no_slot && http_head_ != c.slot) return;  // not linked
  --http_count_;
  auto at = [this](std::uint32_t s) -> connection& { return connections_[s]; };
  if (c.http_prev != connection::no_slot) at(c.http_prev).http_next = c.http_next;
  else http_head_ = c.http_next;
  if (c.http_next != connection::no_slot) at(c.http_next).http_prev = c.http_prev;
  else http_tail_ = c.http_prev;
  c.http_prev = c.http_next = connection::no_slot;
}

void event_loop::resume_input(connection& c) {
  auto h = handle_of(c);
  asio::post(io_, [this, h] {
    auto* conn = find(h);
    if (!conn || conn->awaiting_hub) return;
    guarded(*conn, [&] {
      auto generation = conn->generation;
      if (!conn->input.empty()) feed(*conn, {});
      if (conn->generation == generation && conn->state != connection::phase::free && !conn->awaiting_hub) read_from(*conn);
    });
    end_pass();
  });
}

void event_loop::renew_http(connection& c) noexcept {
  c.phase_since = now_tick_;
  unlink_http(c);
  link_http(c);
}

void event_loop::leave_http(connection& c) noexcept { unlink_http(c); }

double event_loop::seconds_since(std::uint32_t tick) const noexcept {
  return std::chrono::duration<double>(tick_length_ * (now_tick_ - tick)).count();
}

void event_loop::evict_oldest_http() {
  // The oldest waiter goes: a client that is making progress finishes its
  // request in milliseconds, so whoever is oldest is the one holding a slot.
  if (http_head_ == connection::no_slot) return;
  auto& oldest = connections_[http_head_];
  metrics_.http_evicted.add();
  close_now(oldest);
}

// --- writing ------------------------------------------------------------------------

void event_loop::send(connection& c, outbound item) {
  const auto size = item.size();
  if (!c.peer.empty()) {
    // A WebSocket receiver that falls too far behind, or a server whose
    // backlogs together pass their cap, loses the connection, not memory.
    bool over = c.out.queued + size > state_.opts.max_send_queue_bytes ||
                (c.out.rest && state_.queued_bytes.load(std::memory_order_relaxed) + size > state_.opts.max_queued_bytes);
    if (over && c.state == connection::phase::websocket) {
      warn_limited("send-queue-overflow", {{"peer", c.peer}, {"queued_bytes", std::uint64_t{c.out.queued}}});
      websocket_session::drop(*this, c, websocket::close_code::policy, metrics::close_reason::send_queue_overflow);
      return;
    }
    if (over) return;  // closing: nothing more matters
  }
  enqueue(c.out, cork_, std::move(item));
  if (c.out.rest) {
    state_.queued_bytes.fetch_add(size, std::memory_order_relaxed);
    return;  // waiting for EPOLLOUT
  }
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(handle_of(c));
  }
}

void event_loop::flush(connection& c) {
  bool was_stalled = c.out.rest != nullptr;
  write_result r;
  if (c.tls) {
    tls_sink out(c.tls, tls_scratch_.get(), tls_scratch_size);
    r = sigkit::server::flush(out, c.out, cork_, c.close_when_flushed);
  } else {
    socket_sink out(c.fd);
    r = sigkit::server::flush(out, c.out, cork_, c.close_when_flushed);
  }
  if (r.backlog_change > 0) state_.queued_bytes.fetch_add(static_cast<std::size_t>(r.backlog_change), std::memory_order_relaxed);
  else if (r.backlog_change < 0) state_.queued_bytes.fetch_sub(static_cast<std::size_t>(-r.backlog_change), std::memory_order_relaxed);
  if (r.error) {
    c.set_reason(metrics::close_reason::network_error);
    close_now(c);
    return;
  }
  if (c.out.rest) {
    // Progress resets the write deadline; a new stall starts it.
    if (!was_stalled || r.written > 0) c.stalled_since = now_tick_;
    if (!c.write_interest) set_write_interest(c, true);
    if (!was_stalled) reschedule(c);
    return;
  }
  if (c.write_interest && !c.tls_wants_write) set_write_interest(c, false);
  if (c.close_when_flushed) {
    if (!c.peer.empty()) close_now(c);                             // a WebSocket close handshake is over
    else if (c.state == connection::phase::http && c.eof) close_now(c);  // the peer is gone already
    else if (c.state == connection::phase::http) shutdown_send(c);      // HTTP: FIN, then drain the peer
  }
}

void event_loop::set_write_interest(connection& c, bool on) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET | (on ? EPOLLOUT : 0u);
  ev.data.u64 = local_key(c);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
  c.write_interest = on;
}

void event_loop::shutdown_send(connection& c) {
  // Answered with Connection: close. The FIN goes after the response; the
  // socket stays open (reading and discarding) until the peer closes too, so
  // that unread bytes of its do not turn our close into a reset that could
  // destroy the response in flight.
  unlink_http(c);
  if (c.state == connection::phase::http) metrics_.http_closed.add();
  c.state = connection::phase::closing;
  c.phase_since = now_tick_;
  c.input.release();
  if (c.tls) {
    tls_close(c.tls);  // close_notify goes before the FIN
    c.tls = nullptr;
  }
  ::shutdown(c.fd, SHUT_WR);
  reschedule(c);
}

void event_loop::send_now(connection& c, std::string_view bytes) noexcept {
  iovec one{const_cast<char*>(bytes.data()), bytes.size()};
  if (c.tls) {
    tls_sink out(c.tls, tls_scratch_.get(), tls_scratch_size);
    [[maybe_unused]] auto n = out.write(&one, 1, false);
  } else {
    socket_sink out(c.fd);
    [[maybe_unused]] auto n = out.write(&one, 1, false);
  }
}

void event_loop::use_tls(std::shared_ptr<const tls_context> tls) {
  asio::post(io_, [this, tls = std::move(tls)]() mutable { tls_ = std::move(tls); });
}

void event_loop::close_now(connection& c) {
  if (c.state == connection::phase::free) return;
  if (!c.peer.empty()) {
    websocket_session::finish(*this, c);
  } else if (c.state == connection::phase::http) {
    unlink_http(c);
    metrics_.http_closed.add();
  }
  if (c.out.backlog_bytes) state_.queued_bytes.fetch_sub(c.out.backlog_bytes, std::memory_order_relaxed);
  tls_close(c.tls);
  ::close(c.fd);  // also leaves the epoll set
  free_slot(c);
  --live_;
  if (closing_all_) check_stopped();
}

void event_loop::end_pass() {
  // Everything this pass queued leaves now: one gathered write per
  // connection, one batch per other loop.
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    auto* c = find(dirty_[i]);
    if (!c) continue;
    c->dirty = false;
    if (c->out.corked()) guarded(*c, [&] { flush(*c); });
  }
  dirty_.clear();
  cork_.clear();
  if (!join_reads_.empty()) {
    auto written = clock::now();
    for (auto t : join_reads_) metrics_.join_latency.observe(written - t);
    join_reads_.clear();
  }
  for (std::size_t target = 0; target < outboxes_.size(); ++target) {
    if (outboxes_[target].empty()) continue;
    state_.loops[target]->post_deliveries(std::move(outboxes_[target]));
    outboxes_[target].clear();
  }
  if (!read_again_.empty()) {
    asio::post(io_, [this] {
          now_time_ = clock::now();
      auto again = std::move(read_again_);
      read_again_.clear();
      for (auto h : again)
        if (auto* c = find(h)) guarded(*c, [&] { read_from(*c); });
      end_pass();
    });
  }
}

// --- other loops --------------------------------------------------------------------

void event_loop::deliver(rooms::member_handle to, std::shared_ptr<const std::string> frame) {
  auto loop = loop_of(to);
  if (loop != index_) {
    outboxes_[loop].push_back({to, std::move(frame)});
    return;
  }
  auto* c = find(to);
  if (!c || c->state != connection::phase::websocket) return;  // gone, or going: peer-left is on its way
  metrics_.messages_sent.add();
  send(*c, outbound::text_frame(std::move(frame)));
}

void event_loop::settle(rooms::member_handle sender, const rooms::outcome& outcome) {
  if (auto* c = find(sender)) websocket_session::on_settled(*this, *c, outcome);
}

void event_loop::post_deliveries(std::vector<remote_delivery> batch) {
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    if (inbox_.empty()) inbox_ = std::move(batch);
    else inbox_.insert(inbox_.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    if (!inbox_posted_) post = inbox_posted_ = true;
  }
  if (post) asio::post(io_, [this] { drain_inbox(); });
}

void event_loop::post_to(rooms::member_handle h, std::function<void(connection&)> f) {
  asio::post(io_, [this, h, f = std::move(f)] {
    now_time_ = clock::now();
    if (auto* c = find(h)) {
      guarded(*c, [&] {
        auto generation = c->generation;
        f(*c);
        if (c->generation == generation && c->state != connection::phase::free && !c->input.empty()) feed(*c, {});
      });
    }
    end_pass();
  });
}

void event_loop::post(std::function<void()> f) {
  asio::post(io_, [this, f = std::move(f)] {
    now_time_ = clock::now();
    f();
    end_pass();
  });
}

unsigned event_loop::loop_of(rooms::member_handle h) noexcept {
  return static_cast<unsigned>(h >> (slot_bits + generation_bits));
}

void event_loop::drain_inbox() {
  std::vector<remote_delivery> batch;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
    inbox_posted_ = false;
  }
  for (auto& d : batch) {
    auto* c = find(d.to);
    if (!c || c->state != connection::phase::websocket) continue;
    guarded(*c, [&] {
      metrics_.messages_sent.add();
      send(*c, outbound::text_frame(std::move(d.frame)));
    });
  }
  end_pass();
}

// --- stopping -----------------------------------------------------------------------

void event_loop::begin_close_all() {
  asio::post(io_, [this] {
      now_time_ = clock::now();
    closing_all_ = true;
    close_deadline_ = now_time_ + state_.opts.drain_timeout;
    for (auto& l : listeners_) {
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, l.fd, nullptr);
      ::close(l.fd);
    }
    listeners_.clear();
    connections_.for_each([this](connection& c) {
      if (c.state == connection::phase::websocket)
        guarded(c, [&] {
          websocket_session::start_close(*this, c, websocket::close_code::going_away, metrics::close_reason::shutdown);
        });
      else if (c.state == connection::phase::http && !c.waiting_for_file && c.out.empty())
        close_now(c);
    });
    end_pass();
    check_stopped();
  });
}

void event_loop::check_stopped() {
  if (live_ == 0) io_.stop();
}

void event_loop::warn_limited(std::string_view event, std::initializer_list<log_field> fields) {
  // What a client can make us log is rate-limited, with a count of what was held back.
  if (!state_.log.enabled(log_level::warn) || !warn_limit_.allow(now_time_)) return;
  auto suppressed = warn_limit_.take_suppressed();
  if (suppressed == 0) {
    state_.log.warn(event, fields);
    return;
  }
  std::vector<log_field> with(fields);
  with.push_back({"suppressed", suppressed});
  state_.log.write(log_level::warn, event, std::span<const log_field>(with));
}

}  // namespace sigkit::server
