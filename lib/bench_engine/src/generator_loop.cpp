// The bytes of a simulated peer: the socket, TLS, the HTTP upgrade, RFC 6455
// frames, deadlines. What the peer says is in session.cpp.
#include "generator_loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sigkit/client/tls_session.hpp"
#include "sigkit/websocket/frame.hpp"
#include "sigkit/websocket/handshake.hpp"

namespace sigkit::bench_engine {
namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
constexpr std::size_t max_events = 256;
constexpr std::size_t max_response_head = 16 * 1024;
constexpr std::int64_t tick_ns = 5'000'000;  // the wheel's tick: 5 ms
constexpr std::uint64_t wake_tag = ~std::uint64_t{0};
constexpr std::int64_t close_wait_ns = 5'000'000'000;  // for the server's close frame, after ours
constexpr std::int64_t stop_grace_ns = 2'000'000'000;  // after a stop, for sessions in flight

std::int64_t ns_of(std::chrono::nanoseconds d) { return d.count(); }

std::string seconds_text(std::chrono::nanoseconds d) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// A socket error as a failure reason: the everyday ones in words, the ones
// that mean the generator ran out of something by their names.
std::string errno_reason(int e) {
  switch (e) {
    case EMFILE: return "out of file descriptors (EMFILE): raise the open-files limit (ulimit -n)";
    case ENFILE: return "the system is out of file descriptors (ENFILE)";
    case ECONNREFUSED: return "connection refused";
    case ECONNRESET: return "connection reset by the server";
    case ETIMEDOUT: return "connection timed out";
    case EADDRNOTAVAIL: return "no free local port (EADDRNOTAVAIL): spread peers with --source-addresses";
    case EADDRINUSE: return "no free local port (EADDRINUSE): spread peers with --source-addresses";
    case ENETUNREACH: return "network unreachable";
    case EHOSTUNREACH: return "host unreachable";
    case EPIPE: return "connection closed by the server";
    case ENOBUFS:
    case ENOMEM: return "out of socket memory (" + std::string(e == ENOBUFS ? "ENOBUFS" : "ENOMEM") + ")";
    default: {
      std::string text = std::strerror(e);
      if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
      return text;
    }
  }
}

bool iequals_prefix(std::string_view line, std::string_view name) {
  if (line.size() < name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != name[i]) return false;
  return true;
}

// xorshift64*: masking keys need not be secret from the server (RFC 6455
// §10.3 is about browsers' scripts); a load generator needs them fast.
std::uint32_t next_mask(std::uint64_t& state) noexcept {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return static_cast<std::uint32_t>((state * 2685821657736338717ULL) >> 32);
}

}  // namespace

generator_loop::generator_loop(shared_run& run, unsigned index, unsigned threads)
    : late(run.plan.late_bound),
      run_(run),
      index_(index),
      threads_(threads),
      room_size_(run.plan.room_size),
      read_buffer_(std::make_unique<char[]>(read_buffer_size)),
      events_(max_events),
      wheel_(1024),
      mask_state_(0x9E3779B97F4A7C15ULL ^ (std::uint64_t{index} + 1) * 0xBF58476D1CE4E5B9ULL) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::system_error(errno, std::system_category(), "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = wake_tag;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  cursor_room_ = index;
}

generator_loop::~generator_loop() {
  peers_.for_each([](peer& p) {
    if (p.tls) SSL_free(p.tls);
    if (p.fd >= 0) ::close(p.fd);
  });
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void generator_loop::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

// --- the loop -----------------------------------------------------------------------

template <class F>
void generator_loop::guarded(peer& p, F&& f) {
  // The unexpected (a bug, memory running out) ends this peer's session
  // with a failure that says so, never the run, and never a hang.
  auto generation = p.generation;
  try {
    f();
  } catch (const std::exception& e) {
    if (alive(p, generation)) fail(p, p.welcomed ? stage::session : stage::handshake,
                                   std::string("internal error: ") + e.what());
  }
}

void generator_loop::run() {
  std::int64_t last_snapshot_ns = 0;
  for (;;) {
    auto now = clock::now();
    now_ns_ = run_.since_start(now);
    if (!stopping_ && run_.stopping()) {
      stopping_ = true;
      more_to_start_ = false;
      stop_deadline_ns_ = now_ns_ + stop_grace_ns;
    }
    if (more_to_start_) start_due(now);
    wheel_.advance(static_cast<timer_wheel::tick>(now_ns_ / tick_ns), [this](timer_wheel::entry& e) {
      auto& p = static_cast<peer&>(e);
      guarded(p, [&] { on_deadline(p); });
    });
    if (stopping_ && now_ns_ >= stop_deadline_ns_ && live_ > 0) {
      peers_.for_each([this](peer& p) {
        if (p.state != peer::phase::free) close_peer(p);
      });
    }
    end_pass();
    if (now_ns_ - last_snapshot_ns >= 250'000'000) {
      last_snapshot_ns = now_ns_;
      std::lock_guard lock(snapshot_mutex);
      join_snapshot = join;
    }
    if (!more_to_start_ && live_ == 0) break;

    // Sleep until the next start, the next tick with peers to time, or at
    // most 100 ms (a stop must be seen promptly).
    std::int64_t wake_at = now_ns_ + 100'000'000;
    if (live_ > 0) wake_at = std::min(wake_at, (now_ns_ / tick_ns + 1) * tick_ns);
    if (more_to_start_ && run_.schedule.model() == bench::load_model::open) wake_at = std::min(wake_at, next_start_ns_);
    std::int64_t wait_ns = std::max<std::int64_t>(0, wake_at - run_.since_start(clock::now()));
    timespec timeout{static_cast<time_t>(wait_ns / 1'000'000'000), static_cast<long>(wait_ns % 1'000'000'000)};
    int n = ::epoll_pwait2(epoll_fd_, events_.data(), static_cast<int>(events_.size()), &timeout, nullptr);
    now_ns_ = run_.since_start(clock::now());
    for (int i = 0; i < n; ++i) {
      auto key = events_[i].data.u64;
      if (key == wake_tag) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
        continue;
      }
      auto* p = find(key);
      if (!p) continue;  // closed earlier in this pass
      guarded(*p, [&] { on_socket(*p, events_[i].events); });
    }
    end_pass();
  }
}

void generator_loop::start_due(clock::time_point now) {
  const auto k = room_size_;
  const auto& slice = run_.plan.slice;
  if (run_.schedule.model() == bench::load_model::open) {
    // This thread's rooms of the segment are its j-th, (j + threads)-th, ...;
    // their members start at the plan's intended times.
    for (int started = 0; started < 512; ++started) {
      if (cursor_room_ >= run_.segment_rooms.value_or(0)) {
        more_to_start_ = false;
        return;
      }
      auto room_number = slice.plan_room(cursor_room_);
      auto i = room_number * k + cursor_member_;
      auto intended = run_.schedule.intended_start(i).value_or(std::chrono::nanoseconds::zero()).count();
      if (intended > now_ns_) {
        next_start_ns_ = intended;
        return;
      }
      late.observe(std::chrono::nanoseconds(intended), std::chrono::nanoseconds(now_ns_));
      start_peer(i, room_number, intended, now_ns_);
      if (++cursor_member_ == k) {
        cursor_member_ = 0;
        cursor_room_ += threads_;
      }
    }
    next_start_ns_ = now_ns_;  // more are due: come back at once
    return;
  }
  // Closed model: a room starts when its k places are free, whichever
  // thread frees them; the limit is the whole process's.
  if (run_.plan.duration && now - run_.start >= *run_.plan.duration) {
    more_to_start_ = false;
    return;
  }
  for (int rooms = 0; rooms < 64; ++rooms) {
    auto in_use = run_.slots_in_use.load();
    do {
      if (in_use + k > run_.closed_slots) return;  // a closing peer will wake this loop
    } while (!run_.slots_in_use.compare_exchange_weak(in_use, in_use + k));
    auto j = run_.next_room.fetch_add(1);
    if (run_.segment_rooms && j >= *run_.segment_rooms) {
      run_.slots_in_use.fetch_sub(k);
      more_to_start_ = false;
      return;
    }
    auto room_number = slice.plan_room(j);
    for (std::uint64_t m = 0; m < k; ++m) start_peer(room_number * k + m, room_number, now_ns_, now_ns_);
  }
}

// --- peers ----------------------------------------------------------------------------

peer& generator_loop::allocate() { return peers_.allocate(); }

peer* generator_loop::find(handle h) noexcept {
  auto slot = static_cast<std::uint32_t>(h);
  if (h == 0 || !peers_.holds(slot)) return nullptr;
  auto& p = peers_[slot];
  if (p.state == peer::phase::free || p.generation != static_cast<std::uint32_t>(h >> 32)) return nullptr;
  return &p;
}

void generator_loop::schedule(peer& p, std::int64_t at_ns) {
  wheel_.schedule(p, static_cast<timer_wheel::tick>(std::max<std::int64_t>(at_ns, 0) / tick_ns + 1));
}

void generator_loop::start_peer(std::uint64_t index, std::uint64_t room_number, std::int64_t intended_ns,
                                std::int64_t actual_ns) {
  auto [it, fresh] = rooms_.try_emplace(room_number);
  auto& r = it->second;
  if (fresh) {
    r.name = run_.room_prefix + std::to_string(room_number);
    // Each pair: an offer, an answer and the candidates both ways.
    r.expected = room_size_ * (room_size_ - 1) / 2 * (2 + 2 * run_.plan.candidates);
    r.members.reserve(room_size_);
  }
  peer& p = allocate();
  p.state = peer::phase::connecting;
  p.index = index;
  p.room = &r;
  p.room_number = room_number;
  p.intended_ns = intended_ns;
  p.actual_ns = actual_ns;
  r.members.push_back(handle_of(p));
  ++live_;
  run_.started.fetch_add(1, std::memory_order_relaxed);

  p.target = static_cast<std::uint8_t>(index % room_size_ % run_.targets.size());
  const auto& server = run_.targets[p.target].server;
  int fd = ::socket(server.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(p, stage::local, errno_reason(errno));
  p.fd = fd;
  int one = 1;
  // Signaling is small messages in quick succession: Nagle would hold each
  // for the previous one's delayed ACK.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!run_.sources.empty()) {
    const auto& source = run_.sources[index % run_.sources.size()];
    // The port is chosen at connect(), per destination, so one local address
    // serves as many connections as the 4-tuples allow.
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&source.address), source.length) != 0)
      return fail(p, stage::local, "cannot bind the source address: " + errno_reason(errno));
  }
  epoll_event ev{};
  // Edge-triggered, both directions, registered once: no system call to
  // re-arm after each read or each full socket.
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u64 = handle_of(p);
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return fail(p, stage::local, errno_reason(errno));
  schedule(p, actual_ns + ns_of(run_.plan.connect_timeout));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&server.address), server.length) != 0 && errno != EINPROGRESS)
    return fail(p, errno == EADDRNOTAVAIL || errno == EADDRINUSE ? stage::local : stage::tcp, errno_reason(errno));
}

void generator_loop::on_socket(peer& p, std::uint32_t events) {
  const auto generation = p.generation;
  if (p.state == peer::phase::connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return fail(p, stage::tcp, errno_reason(error));
    on_connected(p);
    if (!alive(p, generation)) return;
  }
  if (p.state == peer::phase::tls) {
    continue_tls(p);
    if (!alive(p, generation) || p.state == peer::phase::tls) return;
  }
  if ((events & EPOLLOUT) && p.tls_wants_write) {
    p.tls_wants_write = false;
    events |= EPOLLIN;
  }
  if ((events & EPOLLOUT) && !p.output.empty()) {
    flush(p);
    if (!alive(p, generation)) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_from(p);
}

void generator_loop::on_connected(peer& p) {
  if (!run_.tls_native) return send_upgrade(p);
  p.tls = SSL_new(run_.tls_native);
  if (!p.tls || SSL_set_fd(p.tls, p.fd) != 1) {
    ERR_clear_error();
    return fail(p, stage::handshake, "TLS: cannot create a session (out of memory)");
  }
  // Writes resume from the output buffer, which may have moved since.
  SSL_set_mode(p.tls, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_set_connect_state(p.tls);
  if (auto ec = client::expect_server_name(p.tls, run_.targets[p.target].url.host))
    return fail(p, stage::handshake, "TLS: " + ec.message());
  p.state = peer::phase::tls;
}

void generator_loop::continue_tls(peer& p) {
  int rc = SSL_do_handshake(p.tls);
  if (rc == 1) return send_upgrade(p);
  int e = SSL_get_error(p.tls, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;  // the next edge
  auto ec = client::session_error(p.tls, e);
  fail(p, stage::handshake, ec.category() == client::tls_category() ? "TLS: " + ec.message() : errno_reason(ec.value()));
}

void generator_loop::send_upgrade(peer& p) {
  // RFC 6455 §4.1. A browser would send more headers; a server needs these.
  auto key = websocket::make_client_key();
  p.accept = std::make_unique<std::string>(websocket::accept_key(key).value_or(""));
  std::string request;
  request.reserve(256);
  request += "GET ";
  const auto& target = run_.targets[p.target];
  request += target.url.path;
  request += " HTTP/1.1\r\nHost: ";
  request += target.host_header;
  request += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  request += key;
  request += "\r\nSec-WebSocket-Version: 13\r\n";
  if (!run_.plan.origin.empty()) {
    request += "Origin: ";
    request += run_.plan.origin;
    request += "\r\n";
  }
  request += "\r\n";
  p.state = peer::phase::upgrading;
  p.output.append(request);
  flush(p);
}

ssize_t generator_loop::receive(peer& p, char* buffer, std::size_t size) {
  if (!p.tls) {
    for (;;) {
      ssize_t n = ::recv(p.fd, buffer, size, 0);
      if (n >= 0 || errno != EINTR) return n;
    }
  }
  std::size_t got = 0;
  int rc = SSL_read_ex(p.tls, buffer, size, &got);
  if (rc == 1) return static_cast<ssize_t>(got);
  int e = SSL_get_error(p.tls, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    p.tls_wants_write = e == SSL_ERROR_WANT_WRITE;
    errno = EAGAIN;
    return -1;
  }
  if (e == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
  auto ec = client::session_error(p.tls, e);
  // The server closing without close_notify is an ordinary EOF here.
  if (ec == std::error_code(static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING)),
                            client::tls_category()))
    return 0;
  errno = ec.category() == client::tls_category() ? EPROTO : ec.value();
  return -1;
}

void generator_loop::read_from(peer& p) {
  const auto generation = p.generation;
  for (;;) {
    ssize_t n = receive(p, read_buffer_.get(), read_buffer_size);
    if (n > 0) {
      feed(p, {read_buffer_.get(), static_cast<std::size_t>(n)});
      if (!alive(p, generation)) return;
      continue;  // edge-triggered: read until the socket is dry
    }
    if (n == 0) {
      switch (p.state) {
        case peer::phase::leaving: return close_peer(p);
        case peer::phase::upgrading: return fail(p, stage::handshake, "closed by the server during the upgrade");
        case peer::phase::opening: return fail(p, stage::handshake, "closed by the server before its welcome");
        default: return fail(p, stage::session, "connection closed by the server");
      }
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (p.state == peer::phase::leaving) return close_peer(p);
    return fail(p, p.welcomed ? stage::session : stage::handshake,
                errno == EPROTO ? "TLS: the session failed" : errno_reason(errno));
  }
}

void generator_loop::feed(peer& p, std::span<char> fresh) {
  const auto generation = p.generation;
  if (p.state == peer::phase::upgrading) {
    p.input.append({fresh.data(), fresh.size()});
    return on_upgrade_response(p);
  }
  const bool stashed = !p.input.empty();
  if (stashed) p.input.append({fresh.data(), fresh.size()});
  std::span<char> data = stashed ? p.input.bytes() : fresh;
  std::size_t used = consume_frames(p, data);
  if (!alive(p, generation)) return;
  if (stashed) p.input.consume(used);
  else if (used < data.size()) p.input.append({data.data() + used, data.size() - used});
}

std::size_t generator_loop::consume_frames(peer& p, std::span<char> bytes) {
  using kind = websocket::reader::event::kind;
  const auto generation = p.generation;
  std::size_t pos = 0;
  for (;;) {
    std::size_t used = 0;
    auto ev = p.reader.next(bytes.subspan(pos), used);
    pos += used;
    switch (ev.what) {
      case kind::need_more: return pos;
      case kind::message:
        if (p.state == peer::phase::leaving) break;  // in flight when we said goodbye: it counts for nothing
        if (ev.type != websocket::opcode::text) {
          fail(p, p.welcomed ? stage::session : stage::handshake,
               "protocol violation: a binary frame (signaling is text)");
          return 0;
        }
        on_text(p, ev.payload);
        if (!alive(p, generation)) return 0;
        break;
      case kind::ping: send_frame(p, websocket::opcode::pong, ev.payload); break;
      case kind::pong: break;
      case kind::close:
        if (p.state == peer::phase::leaving) {  // the answer to ours
          close_peer(p);
          return 0;
        }
        // RFC 6455 §5.5.1: answer, then let the server close the TCP connection.
        send_frame(p, websocket::opcode::close,
                   ev.code == websocket::close_code::no_status ? std::string() : websocket::close_payload(ev.code));
        flush(p);
        if (!alive(p, generation)) return 0;
        fail(p, p.welcomed ? stage::session : stage::handshake,
             "closed by the server (" + std::to_string(ev.code) + ")" +
                 (p.welcomed ? std::string() : std::string(" before its welcome")));
        return 0;
      case kind::fail:
        fail(p, p.welcomed ? stage::session : stage::handshake,
             "WebSocket protocol error: " + std::string(ev.why));
        return 0;
    }
  }
}

void generator_loop::on_upgrade_response(peer& p) {
  auto text = p.input.view();
  auto end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (text.size() > max_response_head || (text.size() >= 5 && text.substr(0, 5) != "HTTP/"))
      fail(p, stage::handshake, "not an HTTP server (its answer to the upgrade is not HTTP)");
    return;
  }
  // RFC 9112 §4: HTTP-version SP 3DIGIT SP reason.
  if (text.size() < 12 || text.substr(0, 7) != "HTTP/1." || text[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(text[9])) || !std::isdigit(static_cast<unsigned char>(text[10])) ||
      !std::isdigit(static_cast<unsigned char>(text[11])))
    return fail(p, stage::handshake, "not an HTTP server (its answer to the upgrade is not HTTP)");
  int status = (text[9] - '0') * 100 + (text[10] - '0') * 10 + (text[11] - '0');
  if (status != 101) {
    auto code = "HTTP " + std::to_string(status);
    return fail(p, stage::handshake, status < 400 ? "not a WebSocket endpoint (" + code + ")" : code);
  }
  // RFC 6455 §4.1: the server proves it read our key.
  bool accepted = false;
  std::size_t pos = text.find("\r\n") + 2;
  while (pos < end) {
    auto eol = text.find("\r\n", pos);
    auto line = text.substr(pos, eol - pos);
    if (iequals_prefix(line, "sec-websocket-accept:")) {
      auto value = line.substr(21);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
      accepted = p.accept && value == *p.accept;
    }
    pos = eol + 2;
  }
  if (!accepted) return fail(p, stage::handshake, "not a WebSocket server (wrong Sec-WebSocket-Accept)");
  p.accept.reset();
  std::string rest(text.substr(end + 4));
  p.input.release();
  p.state = peer::phase::opening;
  const auto generation = p.generation;
  if (!run_.speech.waits_for_welcome()) {
    on_welcome(p, {});
    if (!alive(p, generation)) return;
  }
  if (!rest.empty()) feed(p, {rest.data(), rest.size()});
}

void generator_loop::send_frame(peer& p, websocket::opcode op, std::string_view payload) {
  // RFC 6455 §5.3: a client masks every frame, with a fresh key each time.
  const auto key = next_mask(mask_state_);
  char header[websocket::max_header_bytes];
  const auto n = websocket::write_header(header, op, true, payload.size(), key);
  p.output.append({header, n});
  auto body = p.output.grow(payload.size());
  std::memcpy(body.data(), payload.data(), payload.size());
  websocket::apply_mask(body, key);
  if (!p.dirty) {
    p.dirty = true;
    dirty_.push_back(handle_of(p));
  }
}

void generator_loop::flush(peer& p) {
  std::size_t written = 0;
  auto bytes = p.output.view();
  while (written < bytes.size()) {
    if (p.tls) {
      std::size_t n = 0;
      int rc = SSL_write_ex(p.tls, bytes.data() + written, bytes.size() - written, &n);
      if (rc == 1) {
        written += n;
        continue;
      }
      int e = SSL_get_error(p.tls, rc);
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) break;
      p.output.consume(written);
      if (p.state == peer::phase::leaving) return close_peer(p);
      auto ec = client::session_error(p.tls, e);
      return fail(p, p.welcomed ? stage::session : stage::handshake,
                  ec.category() == client::tls_category() ? "TLS: " + ec.message() : errno_reason(ec.value()));
    }
    ssize_t n = ::send(p.fd, bytes.data() + written, bytes.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;  // EPOLLOUT will come
    p.output.consume(written);
    if (p.state == peer::phase::leaving) return close_peer(p);
    return fail(p, p.welcomed ? stage::session : stage::handshake, errno_reason(errno));
  }
  p.output.consume(written);
}

void generator_loop::end_pass() {
  // Everything a pass queued for a peer leaves in one write.
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    auto* p = find(dirty_[i]);
    if (!p) continue;
    p->dirty = false;
    if (!p->output.empty() && p->state != peer::phase::connecting && p->state != peer::phase::tls)
      guarded(*p, [&] { flush(*p); });
  }
  dirty_.clear();
}

void generator_loop::on_deadline(peer& p) {
  const auto& plan = run_.plan;
  switch (p.state) {
    case peer::phase::connecting:
      return fail(p, stage::tcp, "no TCP connection within " + seconds_text(plan.connect_timeout));
    case peer::phase::tls:
      return fail(p, stage::handshake, "TLS: no handshake within " + seconds_text(plan.connect_timeout));
    case peer::phase::upgrading:
      return fail(p, stage::handshake, "no answer to the WebSocket upgrade within " + seconds_text(plan.connect_timeout));
    case peer::phase::opening:
      return fail(p, stage::handshake, "no welcome within " + seconds_text(plan.connect_timeout));
    case peer::phase::joining:
      return fail(p, stage::session, "no answer to join within " + seconds_text(plan.negotiation_timeout));
    case peer::phase::in_room:
      // The hold is over, or the negotiation ran out of time (what did not
      // arrive counts as lost).
      return start_leaving(p);
    case peer::phase::leaving: return close_peer(p);
    case peer::phase::free: return;
  }
}

void generator_loop::fail(peer& p, stage s, const std::string& why) {
  if (p.state == peer::phase::free) return;
  if (!p.failed) {
    p.failed = true;
    ++failed;
    ++failures[why];
    run_.failed_total.fetch_add(1, std::memory_order_relaxed);
    if (s != stage::session) {
      auto early = run_.early_failures.fetch_add(1) + 1;
      // Nothing has ever got through and attempt after attempt fails: the
      // target is unreachable (or its TLS unusable, or it is not a server of
      // this dialect), and waiting for the rest of the schedule helps nobody.
      if (early >= 5 && run_.connected_total.load() == 0) {
        if (s == stage::tcp) run_.give_up("target unreachable: " + why);
        else if (s == stage::local) run_.give_up("no peer could start: " + why);
        else if (why.find("certificate verify failed") != std::string::npos)
          run_.give_up("no connection got past " + why + "; see --ca-file and --insecure");
        else run_.give_up("no peer got through: " + why);
      }
    }
  }
  close_peer(p);
}

void generator_loop::close_peer(peer& p) {
  if (p.state == peer::phase::free) return;
  p.unlink();
  if (p.tls) {
    if (SSL_is_init_finished(p.tls)) SSL_shutdown(p.tls);  // one attempt at close_notify
    ERR_clear_error();
    SSL_free(p.tls);
    p.tls = nullptr;
  }
  if (p.fd >= 0) ::close(p.fd);  // also leaves the epoll set
  p.fd = -1;
  if (p.welcomed) run_.connected_now.fetch_sub(1, std::memory_order_relaxed);
  if (p.joined) run_.in_rooms.fetch_sub(1, std::memory_order_relaxed);
  auto& r = *p.room;
  ++r.ended;
  if (p.failed && !r.done) break_room(r, p);
  const auto room_number = p.room_number;
  p.state = peer::phase::free;
  p.room = nullptr;
  p.welcomed = p.joined = p.negotiating = p.failed = p.dirty = p.tls_wants_write = false;
  p.known = p.unnamed_older = 0;
  p.reader = websocket::reader(websocket::role::client, 1 << 20);
  p.input.release();
  p.output.release();
  std::string().swap(p.id);
  p.accept.reset();
  std::vector<handle>().swap(p.older);
  ++p.generation;  // handles to it now miss
  peers_.release(p);
  --live_;
  if (r.ended == room_size_) rooms_.erase(room_number);
  if (run_.schedule.model() == bench::load_model::closed) {
    // Its place under --concurrency is free once its socket is closed.
    run_.slots_in_use.fetch_sub(1);
    for (int fd : run_.wake_fds) {
      std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(fd, &one, sizeof one);
    }
  }
}

}  // namespace sigkit::bench_engine
