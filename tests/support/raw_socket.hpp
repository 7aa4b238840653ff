// A bare TCP connection for what a well-behaved client never does: hand-made
// HTTP upgrades, raw WebSocket frames, and never reading (a slow or dead peer).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace sigkit::test {

class raw_socket {
 public:
  // Connects to 127.0.0.1:port. A receive_buffer (SO_RCVBUF, bytes) set
  // before connecting makes a peer that stops reading fill up sooner.
  explicit raw_socket(std::uint16_t port, int receive_buffer = 0);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  void write(std::string_view bytes);
  // Reads until `until` appears, the peer closes, or the timeout passes.
  std::string read_until(std::string_view until, std::chrono::milliseconds timeout);
  // True when the peer closed the connection (EOF or reset) within timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout);
  // Half-closes: the peer reads EOF, and this side can still read.
  void shutdown_write();
  // Reads and throws away whatever has arrived, without waiting.
  std::size_t drain();

  // Sends a WebSocket upgrade for /ws; returns the response head.
  std::string upgrade(std::string_view extra_headers = {});
  // One masked client frame (RFC 6455 §5.2); fin = false for a fragment.
  void send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true);

 private:
  int fd_ = -1;
};

// One HTTP/1.1 request with Connection: close; returns the whole response.
std::string http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view extra_headers = {});
int http_status(std::string_view response);

}  // namespace sigkit::test
