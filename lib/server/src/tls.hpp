// HTTPS and wss:// with OpenSSL, under the same event loops: a TLS session
// sits between a connection's socket and its bytes, so HTTP parsing and
// WebSocket framing see plaintext and never know. The session reads and
// writes the non-blocking socket itself; the loop only learns "would block
// on read" or "would block on write".
#pragma once

#include <memory>
#include <string>

#include <sys/types.h>

#include "send_queue.hpp"
#include "sigkit/result.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sigkit::server {

// A certificate chain and its key, ready to accept sessions. Immutable:
// reloading builds a new one, and sessions keep the context they began with.
class tls_context {
 public:
  static result<std::shared_ptr<const tls_context>, std::string> load(const std::string& cert_file,
                                                                      const std::string& key_file);
  ~tls_context();
  tls_context(const tls_context&) = delete;
  tls_context& operator=(const tls_context&) = delete;

  // A server session on `fd`, or nullptr (out of memory).
  SSL* accept(int fd) const noexcept;

 private:
  explicit tls_context(SSL_CTX* ctx) noexcept : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

// Reads decrypted bytes: > 0 bytes, 0 the peer closed, -1 with errno
// (EAGAIN: nothing more now; EPROTO: the TLS layer failed; EPROTONOSUPPORT:
// the peer spoke plain HTTP to the TLS port). The handshake
// happens inside the first reads. `wants_write` is set when the session must
// write before it can read again (the handshake, mostly): wait for EPOLLOUT.
ssize_t tls_receive(SSL* ssl, char* buffer, std::size_t size, bool& wants_write) noexcept;

// Writes gathered buffers as TLS records, copied into up to 16 KiB at a
// time (one record each) through a scratch buffer of the loop's.
class tls_sink final : public byte_sink {
 public:
  tls_sink(SSL* ssl, char* scratch, std::size_t scratch_size) noexcept
      : ssl_(ssl), scratch_(scratch), scratch_size_(scratch_size) {}
  ssize_t write(const iovec* buffers, std::size_t count, bool more) override;

 private:
  SSL* ssl_;
  char* scratch_;
  std::size_t scratch_size_;
};

// Sends close_notify if the socket takes it, then frees the session.
void tls_close(SSL* ssl) noexcept;

}  // namespace sigkit::server
