// RFC 6455 framing, the reading half: turns the bytes of one direction of a
// connection into messages and control frames. Sans-I/O: the caller owns the
// bytes and the socket; the reader holds only the state between frames and,
// while a fragmented message is being received, the fragments so far.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "sigkit/websocket/frame.hpp"
#include "sigkit/websocket/utf8.hpp"

namespace sigkit::websocket {

class reader {
 public:
  // max_message_bytes bounds a whole message (all its fragments); it is
  // checked from each frame header, before the payload arrives.
  reader(role r, std::size_t max_message_bytes) noexcept;

  struct event {
    enum class kind : std::uint8_t {
      need_more,  // no complete frame left in the input
      message,    // a whole text or binary message
      ping,
      pong,
      close,      // the peer's close frame (§5.5.1)
      fail,       // the peer broke the protocol: close with `code`
    };
    kind what = kind::need_more;
    opcode type = opcode::text;  // message: text or binary
    // message, ping, pong: the unmasked payload; close: the reason. Points
    // into the caller's input (a single-frame message) or into the reader
    // (a fragmented one); valid until the next call.
    std::string_view payload;
    // close: the peer's status code (1005 when it sent none); fail: the code
    // to close with: 1002 protocol error, 1007 invalid UTF-8, 1009 too big.
    std::uint16_t code = 0;
    // need_more: the size of the frame that has begun, header included, when
    // its header is complete (0 otherwise), so the caller can size its buffer.
    std::size_t frame_bytes = 0;
    std::string_view why;  // fail: a short explanation for logs
  };

  // Reads the next event from `input`, which starts where the previous call
  // stopped consuming. Frames are consumed whole: a partial frame at the end
  // is left unconsumed for the caller to keep and present again, with more
  // bytes after it. Fragments of an unfinished message are consumed (copied
  // into the reader) and reading goes on, so `need_more` may come with
  // consumed > 0. Payloads are unmasked in place, hence the mutable input.
  // After `close` or `fail` the reader is finished: it consumes and ignores
  // whatever follows. `consumed` is set (not added to): the bytes of `input`
  // that the caller may drop.
  event next(std::span<char> input, std::size_t& consumed);

  bool finished() const noexcept { return finished_; }
  // Bytes held for a fragmented message in progress.
  std::size_t buffered_bytes() const noexcept { return fragment_size_; }

 private:
  event read(std::span<char> input, std::size_t& consumed);
  event close_event(const char* payload, std::size_t size) noexcept;
  bool check_text_prefix(const char* payload, std::size_t available, bool masked, std::uint32_t mask_key) noexcept;
  void append_fragment(const char* payload, std::size_t size);
  std::size_t fragment_capacity(std::size_t size) const noexcept;
  event fail(std::uint16_t code, std::string_view why) noexcept;
  void finish() noexcept;

  std::size_t max_message_;
  // Allocated only while a fragmented message is in progress (and until the
  // call after the one that returned it). Its capacity is a function of
  // fragment_size_ (see fragment_capacity()), so it is not stored.
  std::unique_ptr<char[]> fragments_;
  std::size_t fragment_size_ = 0;
  // Payload bytes of the partial text frame at the front of the input that
  // have already gone through utf8_ (§8.1: fail as soon as the bytes are not
  // UTF-8, not only once the whole frame is here).
  std::size_t checked_ = 0;
  utf8_validator utf8_;
  role role_;
  opcode fragmented_type_ = opcode::continuation;  // text/binary while fragmented, else continuation
  bool finished_ = false;
};

}  // namespace sigkit::websocket
