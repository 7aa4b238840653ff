// What a connection has to write, and the write itself.
//
// Frames queued during one pass of the event loop are not written one by one:
// they are corked in the loop's arena, chained per connection, and leave in one
// gathered sendmsg() per connection when the pass ends. Only what the socket
// would not take moves into the connection's own backlog, where it waits for
// EPOLLOUT; an idle connection holds neither.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <system_error>

#include <sys/types.h>
#include <sys/uio.h>
#include <vector>

namespace sigkit::server {

// Bytes to write, shared with every other receiver of the same broadcast, and
// for a text message the WebSocket header in front of them (RFC 6455 §5.2: a
// server's frame header is the same for every receiver, but it is built per
// receiver so the shared text stays plain protocol JSON).
struct outbound {
  std::shared_ptr<const std::string> bytes;
  std::uint8_t header_size = 0;
  std::array<char, 10> header{};

  static outbound raw(std::shared_ptr<const std::string> bytes);
  static outbound text_frame(std::shared_ptr<const std::string> text);
  std::size_t size() const noexcept { return header_size + bytes->size(); }
};

// The loop's corked frames, for every connection, until the pass ends.
class cork_arena {
 public:
  struct link {
    outbound item;
    std::int32_t next = -1;
  };
  std::int32_t add(outbound item) {
    items_.push_back({std::move(item), -1});
    return static_cast<std::int32_t>(items_.size() - 1);
  }
  link& at(std::int32_t i) noexcept { return items_[static_cast<std::size_t>(i)]; }
  void clear() noexcept { items_.clear(); }

 private:
  std::vector<link> items_;
};

struct send_queue {
  struct backlog {
    std::deque<outbound> items;
    std::size_t offset = 0;  // bytes of items.front() already written
  };

  std::int32_t cork_head = -1;
  std::int32_t cork_tail = -1;
  std::uint32_t queued = 0;   // bytes corked or in the backlog
  std::uint32_t backlog_bytes = 0;
  std::unique_ptr<backlog> rest;

  bool empty() const noexcept { return queued == 0; }
  bool corked() const noexcept { return cork_head >= 0; }
};

void enqueue(send_queue& q, cork_arena& arena, outbound item);

// Where gathered bytes go: a socket, or a TLS session on one.
class byte_sink {
 public:
  // Writes what it can of the buffers, in order; returns the bytes taken
  // (fewer than offered when the transport is full), or -1 with errno set
  // (EAGAIN: full before a byte was taken). `more`: nothing follows for now
  // but a close, so the transport may hold the bytes for the FIN.
  virtual ssize_t write(const iovec* buffers, std::size_t count, bool more) = 0;

 protected:
  ~byte_sink() = default;
};

// A plain socket: one sendmsg() per call.
class socket_sink final : public byte_sink {
 public:
  explicit socket_sink(int fd) noexcept : fd_(fd) {}
  ssize_t write(const iovec* buffers, std::size_t count, bool more) override;

 private:
  int fd_;
};

struct write_result {
  std::size_t written = 0;
  bool blocked = false;  // the socket is full: wait for EPOLLOUT
  std::error_code error;
  std::ptrdiff_t backlog_change = 0;  // bytes that moved into (+) or out of (-) the backlog
};

// Writes the corked chain, or the backlog, with as few sendmsg() calls as the
// socket allows. `last` says nothing will follow (a close): the data then goes
// with MSG_MORE so that the FIN of the close() right after shares its segment.
write_result flush(byte_sink& out, send_queue& q, cork_arena& arena, bool last = false);

// Drops everything queued (the connection is going away).
void discard(send_queue& q) noexcept;

}  // namespace sigkit::server
