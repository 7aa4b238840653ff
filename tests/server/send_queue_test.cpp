#include "send_queue.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace sigkit::server;

namespace {

struct socket_pair {
  int ours = -1, theirs = -1;
  socket_pair() {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    ours = fds[0];
    theirs = fds[1];
    int small = 4096;
    ::setsockopt(ours, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::fcntl(ours, F_SETFL, ::fcntl(ours, F_GETFL) | O_NONBLOCK);
  }
  ~socket_pair() {
    ::close(ours);
    ::close(theirs);
  }
  std::string read_some() {
    char buf[8192];
    auto n = ::recv(theirs, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  }
};

std::shared_ptr<const std::string> text(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

}  // namespace

TEST_CASE("queued frames leave in order, whole, across partial writes and the backlog", "[server]") {
  socket_pair sockets;
  cork_arena arena;
  send_queue q;
  std::string expected;
  for (int i = 0; i < 60; ++i) {
    std::string payload(1000 + i * 37, static_cast<char>('a' + i % 26));
    auto frame = outbound::text_frame(text(payload));
    expected.append(frame.header.data(), frame.header_size);
    expected += payload;
    enqueue(q, arena, std::move(frame));
  }
  enqueue(q, arena, outbound::raw(text("tail")));
  expected += "tail";
  REQUIRE(q.queued == expected.size());

  socket_sink out(sockets.ours);
  auto r = flush(out, q, arena);
  CHECK(r.blocked);  // far more than the socket holds
  CHECK_FALSE(r.error);
  REQUIRE(q.rest);
  CHECK(r.backlog_change == static_cast<std::ptrdiff_t>(q.queued));
  CHECK(q.backlog_bytes == q.queued);
  arena.clear();  // the pass ends: the backlog owns what is left

  // More frames while blocked join the backlog, behind the rest.
  enqueue(q, arena, outbound::raw(text("late")));
  expected += "late";

  std::string received;
  std::ptrdiff_t backlog = static_cast<std::ptrdiff_t>(q.backlog_bytes);
  for (int round = 0; round < 10'000 && q.rest; ++round) {
    received += sockets.read_some();
    auto more = flush(out, q, arena);
    REQUIRE_FALSE(more.error);
    backlog += more.backlog_change;
    CHECK(backlog == static_cast<std::ptrdiff_t>(q.backlog_bytes));
  }
  CHECK_FALSE(q.rest);
  CHECK(q.queued == 0);
  for (std::string part; !(part = sockets.read_some()).empty();) received += part;
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
}

TEST_CASE("a text frame's header is the RFC 6455 one for its length", "[server]") {
  auto small = outbound::text_frame(text("Hello"));
  CHECK(std::string(small.header.data(), small.header_size) == std::string("\x81\x05", 2));
  auto medium = outbound::text_frame(text(std::string(300, 'x')));
  CHECK(std::string(medium.header.data(), medium.header_size) == std::string("\x81\x7e\x01\x2c", 4));
  CHECK(medium.size() == 304);
}

TEST_CASE("a write to a closed peer is an error, not a signal", "[server]") {
  socket_pair sockets;
  ::close(sockets.theirs);
  sockets.theirs = ::open("/dev/null", O_RDONLY);
  cork_arena arena;
  send_queue q;
  enqueue(q, arena, outbound::raw(text("nobody hears this")));
  socket_sink out(sockets.ours);
  auto r = flush(out, q, arena);
  CHECK(r.error);  // EPIPE, with MSG_NOSIGNAL: no SIGPIPE
  discard(q);
  CHECK(q.queued == 0);
}
