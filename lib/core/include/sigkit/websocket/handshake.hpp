// RFC 6455 §4: the parts of the opening handshake that are pure text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sigkit::websocket {

// §4.2.2: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")). The
// key must be the base64 encoding of 16 bytes (24 characters, §4.1);
// nullopt otherwise.
std::optional<std::string> accept_key(std::string_view sec_websocket_key);

// A random Sec-WebSocket-Key for a client (§4.1: 16 random bytes, base64).
std::string make_client_key();

// True when the comma-separated header value contains `token`, compared
// case-insensitively and ignoring surrounding whitespace (RFC 7230 §7):
// `Connection: keep-alive, Upgrade` has the token "upgrade".
bool has_token(std::string_view header_value, std::string_view token) noexcept;

}  // namespace sigkit::websocket
