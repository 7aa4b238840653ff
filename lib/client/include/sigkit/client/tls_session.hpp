// For programs that run OpenSSL sessions on sockets of their own (sigbench's
// lean connections, one event loop for thousands of them) with the trust
// settings, checks and error codes of `connection`: the same context, the
// same name check, the same tls_category() errors and messages.
#pragma once

#include <string>
#include <system_error>

#include "sigkit/client/client.hpp"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace sigkit::client {

// The OpenSSL context inside a tls_context (which keeps it alive).
SSL_CTX* native_handle(const tls_context& tls) noexcept;

// Before the handshake: SNI and the name the certificate must carry (a host
// name among its DNS names, an IP address among its addresses), as
// connection does it.
std::error_code expect_server_name(SSL* ssl, const std::string& host);

// After an OpenSSL call on `ssl` failed with `ssl_error` (SSL_get_error's
// SSL_ERROR_SSL, SSL_ERROR_SYSCALL or SSL_ERROR_ZERO_RETURN): the reason, as
// a tls_category() error (the verify result when the certificate did not
// verify; OpenSSL's "unexpected eof while reading" when the peer just
// closed), or the system's error. Clears OpenSSL's error queue.
std::error_code session_error(SSL* ssl, int ssl_error);

}  // namespace sigkit::client
