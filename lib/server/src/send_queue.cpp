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


}  // namespace

ssize_t socket_sink::write(const iovec* buffers, std::size_t count, bool more) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(buffers);
  msg.msg_iovlen = count;
  for (;;) {
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n >= 0 || errno != EINTR) return n;
  }
}

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

namespace {

// Writes a sequence of items from `offset` bytes into the first, in
// batches, until it is all out or the socket is full. The two sequences (the
// backlog, a deque; the corked chain, links in the arena) differ only in how
// they are walked, which `Walk` says: first(), next(position), end(position),
// item(position), retire(position) once an item is out.
template <class Walk>
void write_sequence(byte_sink& out, Walk& walk, std::size_t& offset, bool last, write_result& r) {
  auto at = walk.first();
  while (!walk.end(at) && !r.blocked && !r.error) {
    gathered g;
    auto stop = at;
    for (std::size_t n = 0; !walk.end(stop) && n < batch_items; stop = walk.next(stop), ++n)
      g.add(walk.item(stop), n == 0 ? offset : 0);
    ssize_t n = out.write(g.iov.data(), g.count, last && walk.end(stop));
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) r.blocked = true;
      else r.error = {errno, std::system_category()};
      break;
    }
    auto left = static_cast<std::size_t>(n);
    r.written += left;
    while (left > 0) {
      std::size_t remaining = walk.item(at).size() - offset;
      if (left < remaining) {
        offset += left;
        break;
      }
      left -= remaining;
      offset = 0;
      at = walk.retire(at);
    }
    if (static_cast<std::size_t>(n) < g.bytes) r.blocked = true;
  }
}

struct backlog_walk {
  std::deque<outbound>& items;
  std::size_t first() const noexcept { return 0; }
  std::size_t next(std::size_t i) const noexcept { return i + 1; }
  bool end(std::size_t i) const noexcept { return i >= items.size(); }
  const outbound& item(std::size_t i) const noexcept { return items[i]; }
  std::size_t retire(std::size_t) {
    items.pop_front();  // positions count from the front
    return 0;
  }
};

struct cork_walk {
  cork_arena& arena;
  std::int32_t head;
  std::int32_t first() const noexcept { return head; }
  std::int32_t next(std::int32_t i) const noexcept { return arena.at(i).next; }
  bool end(std::int32_t i) const noexcept { return i < 0; }
  const outbound& item(std::int32_t i) const noexcept { return arena.at(i).item; }
  std::int32_t retire(std::int32_t i) noexcept { return head = arena.at(i).next; }
};

}  // namespace

write_result flush(byte_sink& out, send_queue& q, cork_arena& arena, bool last) {
  write_result r;
  if (q.rest) {
    backlog_walk walk{q.rest->items};
    write_sequence(out, walk, q.rest->offset, last, r);
    q.queued -= static_cast<std::uint32_t>(r.written);
    q.backlog_bytes -= static_cast<std::uint32_t>(r.written);
    r.backlog_change = -static_cast<std::ptrdiff_t>(r.written);
    if (q.rest->items.empty()) q.rest.reset();
    return r;
  }
  // The corked chain: write, then keep whatever the socket did not take.
  cork_walk walk{arena, q.cork_head};
  std::size_t offset = 0;
  write_sequence(out, walk, offset, last, r);
  q.queued -= static_cast<std::uint32_t>(r.written);
  if (walk.head >= 0 && !r.error) {
    q.rest = std::make_unique<send_queue::backlog>();
    q.rest->offset = offset;
    for (auto at = walk.head; at >= 0; at = arena.at(at).next) q.rest->items.push_back(std::move(arena.at(at).item));
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
