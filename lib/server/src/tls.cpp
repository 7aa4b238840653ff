#include "tls.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/uio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace sigkit::server {
namespace {

std::string openssl_error(std::string what) {
  char text[256] = "";
  if (auto e = ERR_get_error()) ERR_error_string_n(e, text, sizeof text);
  ERR_clear_error();
  return text[0] ? what + ": " + text : what;
}

// The largest TLS record's plaintext (RFC 8446 §5.1).
constexpr std::size_t record_size = 16 * 1024;

}  // namespace

result<std::shared_ptr<const tls_context>, std::string> tls_context::load(const std::string& cert_file,
                                                                          const std::string& key_file) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return openssl_error("cannot create a TLS context");
  std::shared_ptr<const tls_context> out(new tls_context(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Idle connections hold no read or write buffer (about 34 KiB each
  // otherwise); writes may be partial and resumed from a moved buffer, as
  // the send queue does.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Resumption by tickets only: no per-session state kept by the server.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
    return openssl_error("cannot use the certificate in " + cert_file);
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    return openssl_error("cannot use the key in " + key_file);
  if (SSL_CTX_check_private_key(ctx) != 1) return openssl_error("the key in " + key_file + " does not match the certificate");
  return out;
}

tls_context::~tls_context() { SSL_CTX_free(ctx_); }

SSL* tls_context::accept(int fd) const noexcept {
  SSL* ssl = SSL_new(ctx_);
  if (!ssl) return nullptr;
  if (SSL_set_fd(ssl, fd) != 1) {
    SSL_free(ssl);
    return nullptr;
  }
  SSL_set_accept_state(ssl);
  return ssl;
}

ssize_t tls_receive(SSL* ssl, char* buffer, std::size_t size, bool& wants_write) noexcept {
  wants_write = false;
  std::size_t got = 0;
  int n = SSL_read_ex(ssl, buffer, size, &got);
  if (n == 1) return static_cast<ssize_t>(got);
  switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      wants_write = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify
    case SSL_ERROR_SYSCALL:
      ERR_clear_error();
      if (errno == 0) return 0;  // EOF without close_notify
      return -1;
    default: {
      // OpenSSL recognises a plain HTTP request sent to a TLS port.
      bool plain_http = ERR_GET_REASON(ERR_peek_error()) == SSL_R_HTTP_REQUEST;
      ERR_clear_error();
      errno = plain_http ? EPROTONOSUPPORT : EPROTO;
      return -1;
    }
  }
}

ssize_t tls_sink::write(const iovec* buffers, std::size_t count, bool) {
  std::size_t total = 0;
  std::size_t i = 0, offset = 0;
  while (i < count) {
    // Gather up to one record's worth.
    std::size_t filled = 0;
    std::size_t j = i, k = offset;
    while (j < count && filled < std::min(record_size, scratch_size_)) {
      std::size_t take = std::min(buffers[j].iov_len - k, std::min(record_size, scratch_size_) - filled);
      std::memcpy(scratch_ + filled, static_cast<const char*>(buffers[j].iov_base) + k, take);
      filled += take;
      k += take;
      if (k == buffers[j].iov_len) {
        ++j;
        k = 0;
      }
    }
    std::size_t written = 0;
    int rc = SSL_write_ex(ssl_, scratch_, filled, &written);
    if (rc != 1) {
      int e = SSL_get_error(ssl_, rc);
      ERR_clear_error();
      if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
        // The record is built and queued inside the session: it counts as
        // taken once a later write completes it; nothing more fits now.
        if (total > 0) return static_cast<ssize_t>(total);
        errno = EAGAIN;
        return -1;
      }
      if (total > 0) return static_cast<ssize_t>(total);
      if (errno == 0) errno = EPIPE;
      return -1;
    }
    total += written;
    // Advance over what was written (all of `filled`, or part of it).
    std::size_t advance = written;
    while (advance > 0) {
      std::size_t left = buffers[i].iov_len - offset;
      if (advance < left) {
        offset += advance;
        advance = 0;
      } else {
        advance -= left;
        ++i;
        offset = 0;
      }
    }
    if (written < filled) return static_cast<ssize_t>(total);
  }
  return static_cast<ssize_t>(total);
}

void tls_close(SSL* ssl) noexcept {
  if (!ssl) return;
  // One attempt at close_notify: the socket is non-blocking, and a peer
  // that does not read gets no more of our time.
  if (SSL_is_init_finished(ssl)) SSL_shutdown(ssl);
  ERR_clear_error();
  SSL_free(ssl);
}

}  // namespace sigkit::server
