// RFC 4648 §5 base64url, unpadded, as JWS writes every part (RFC 7515 §2,
// "Base64url Encoding").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sigkit::auth {

// Strict decoding: only A-Z a-z 0-9 - _, no '=' padding, no whitespace, no
// length of 4n+1, and the unused low bits of the last character must be zero.
// The last rule makes the encoding canonical: without it "QQ" and "QR" would
// both read as "A", and a token could be altered without touching its
// signature bytes. Returns the bytes (binary-safe), nullopt when not canonical.
std::optional<std::string> base64url_decode(std::string_view text);

std::string base64url_encode(std::string_view bytes);

}  // namespace sigkit::auth
