#include "send_queue.hpp"

#include <algorithm>
#include <cerrno>

#include <sys/socket.h>
#include <sys/uio.h>

#include "sigkit/websocket/frame.hpp"

namespace sigkit::server {
namespace {

// Items per sendmsg(): two iovecs each (header, bytes), within IOV_MAX.
constexpr std::size_t batch_items = 256;

struct gathered {
  std::array<iovec, batch_items * 2> iov;
  std::size_t count = 0;
  std::size_t bytes = 0;

  void add(const outbound& o, std::size_t skip) {
    if (skip < o.header_size) {
      iov[count++] = {const_cast<char*>(o.header.data()) + skip, o.header_size - skip};
      bytes += o.header_size - skip;
      skip = 0;
    } else {
      skip -= o.header_size;
    }
    if (skip < o.bytes->size()) {
      iov[count++] = {const_cast<char*>(o.bytes->data()) + skip, o.bytes->size() - skip};
      bytes += o.bytes->size() - skip;
    }
  }
};

// One sendmsg(); returns bytes written or -1 with errno.
ssize_t send_gathered(int fd, gathered& g, bool more) {
  msghdr msg{};
  msg.msg_iov = g.iov.data();
  msg.msg_iovlen = g.count;
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n >= 0 || errno != EINTR) return n;
  }
}

}  // namespace

outbound outbound::raw(std::shared_ptr<const std::string> bytes) {
  outbound o;
  o.bytes = std::move(bytes);
  return o;
}

outbound outbound::text_frame(std::shared_ptr<const std::string> text) {
  outbound o;
  std::array<char, websocket::max_header_bytes> h;
  o.header_size = static_cast<std::uint8_t>(websocket::write_header(h, websocket::opcode::text, true, text->size()));
  std::copy_n(h.begin(), o.header_size, o.header.begin());
  o.bytes = std::move(text);
  return o;
}

void enqueue(send_queue& q, cork_arena& arena, outbound item) {
  q.queued += static_cast<std::uint32_t>(item.size());
  if (q.rest) {  // already waiting for the socket: keep the order
    q.backlog_bytes += static_cast<std::uint32_t>(item.size());
    q.rest->items.push_back(std::move(item));
    return;
  }
  auto i = arena.add(std::move(item));
  if (q.cork_tail >= 0) arena.at(q.cork_tail).next = i;
  else q.cork_head = i;
  q.cork_tail = i;
}

write_result flush(int fd, send_queue& q, cork_arena& arena, bool last) {
  write_result r;
  if (q.rest) {
    auto& items = q.rest->items;
    while (!items.empty()) {
      gathered g;
      std::size_t n_items = 0;
      for (auto it = items.begin(); it != items.end() && n_items < batch_items; ++it, ++n_items)
        g.add(*it, n_items == 0 ? q.rest->offset : 0);
      bool final_batch = n_items == items.size();
      ssize_t n = send_gathered(fd, g, last && final_batch);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) r.blocked = true;
        else r.error = {errno, std::system_category()};
        break;
      }
      auto left = static_cast<std::size_t>(n);
      r.written += left;
      // Retire what went out.
      while (left > 0) {
        std::size_t remaining = items.front().size() - q.rest->offset;
        if (left >= remaining) {
          left -= remaining;
          items.pop_front();
          q.rest->offset = 0;
        } else {
          q.rest->offset += left;
          left = 0;
        }
      }
      if (static_cast<std::size_t>(n) < g.bytes) {
        r.blocked = true;
        break;
      }
    }
    q.queued -= static_cast<std::uint32_t>(r.written);
    q.backlog_bytes -= static_cast<std::uint32_t>(r.written);
    r.backlog_change = -static_cast<std::ptrdiff_t>(r.written);
    if (items.empty()) q.rest.reset();
    return r;
  }

  // The corked chain: write, then keep whatever the socket did not take.
  std::int32_t at = q.cork_head;
  std::size_t offset = 0;  // into the item at `at`
  while (at >= 0 && !r.blocked && !r.error) {
    gathered g;
    std::int32_t end = at;
    std::size_t n_items = 0;
    for (; end >= 0 && n_items < batch_items; end = arena.at(end).next, ++n_items)
      g.add(arena.at(end).item, n_items == 0 ? offset : 0);
    ssize_t n = send_gathered(fd, g, last && end < 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) r.blocked = true;
      else r.error = {errno, std::system_category()};
      break;
    }
    auto left = static_cast<std::size_t>(n);
    r.written += left;
    while (left > 0) {
      std::size_t remaining = arena.at(at).item.size() - offset;
      if (left >= remaining) {
        left -= remaining;
        at = arena.at(at).next;
        offset = 0;
      } else {
        offset += left;
        left = 0;
      }
    }
    if (static_cast<std::size_t>(n) < g.bytes) r.blocked = true;
  }
  q.queued -= static_cast<std::uint32_t>(r.written);
  if (at >= 0 && !r.error) {
    q.rest = std::make_unique<send_queue::backlog>();
    q.rest->offset = offset;
    for (; at >= 0; at = arena.at(at).next) q.rest->items.push_back(std::move(arena.at(at).item));
    q.backlog_bytes = q.queued;
    r.backlog_change = static_cast<std::ptrdiff_t>(q.queued);
  }
  q.cork_head = q.cork_tail = -1;
  return r;
}

void discard(send_queue& q) noexcept {
  q.cork_head = q.cork_tail = -1;
  q.rest.reset();
  q.queued = 0;
  q.backlog_bytes = 0;
}

}  // namespace sigkit::server
