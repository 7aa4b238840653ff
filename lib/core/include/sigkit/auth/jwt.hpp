// JWT verification (RFC 7519) for compact JWS tokens (RFC 7515 §7.1), after
// the JWT Best Current Practices (RFC 8725). Sans-I/O: no clock inside, the
// caller passes `now`; no logging: errors are labels, never token text.
//
//   BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(signature)
//
// The key decides the algorithm, never the token: a token is checked only
// against keys pinned to the `alg` it names, and `none` does not exist here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/auth/keys.hpp"
#include "sigkit/result.hpp"

namespace sigkit::auth {

// Longer tokens are refused as malformed before anything is decoded.
inline constexpr std::size_t max_token_size = 8192;
// A token without `kid` is tried against every key of its algorithm, but
// against no more than this many: past it, the token must name its key.
inline constexpr std::size_t max_keys_tried = 4;

// What a verified token says. NumericDates are whole Unix seconds (a
// fractional value is floored).
struct claims {
  std::string sub;  // non-empty; becomes the peer's `user`
  std::int64_t exp = 0;
  std::optional<std::int64_t> nbf;
  std::optional<std::int64_t> iat;
  std::optional<std::string> iss;
  std::vector<std::string> aud;  // a string `aud` becomes one entry
  // Absent: any room. Present: only these names (an entry ending in '*'
  // matches by prefix, see room_allowed); an empty array allows none.
  std::optional<std::vector<std::string>> rooms;
};

struct verify_options {
  std::optional<std::string> issuer{};    // when set, `iss` must equal it
  std::optional<std::string> audience{};  // when set, `aud` must contain it
  std::chrono::seconds leeway{0};       // clock skew allowed on exp, nbf, iat
};

// Why a token was refused. to_string() gives a stable snake_case label, used
// as the `reason` of sigserve's auth failure counter and in the 401 body.
enum class token_error {
  missing,                // no token at all (an empty string)
  malformed,              // not three canonical base64url parts, too long, header not a JSON object,
                          // `alg` or `kid` not a string, duplicate header names, empty signature
  unsupported_algorithm,  // `alg` is "none" or anything but HS256, RS256, ES256
  algorithm_mismatch,     // no key (or not the key its `kid` names) accepts that `alg`
  unknown_key,            // `kid` names no key; or no key at all; or too many candidates without `kid`
  bad_signature,          // no candidate key verifies it
  critical_header,        // `crit` (or `b64`): extensions sigkit does not implement (RFC 7515 §4.1.11)
  missing_expiry,         // no `exp`
  expired,                // exp <= now - leeway
  not_yet_valid,          // nbf > now + leeway
  issued_in_future,       // iat > now + leeway
  wrong_issuer,           // `iss` missing or not the configured issuer
  wrong_audience,         // `aud` missing or without the configured audience
  missing_subject,        // `sub` missing or empty
  bad_claims,             // claims not a JSON object, duplicate names, or a claim of the wrong type
};
inline constexpr std::size_t token_error_count = 15;

std::string_view to_string(token_error e) noexcept;

// Checks, in order: the compact form; the header (`alg` known, no `crit`);
// which keys may verify it (by `kid`, else by `alg`); the signature; and only
// then the claims: types and required claims, then time (exp, nbf, iat), then
// issuer, then audience. The claims of a token whose signature fails are never
// parsed.
//
// Key choice: a `kid` selects the keys with that kid; when no key has it but
// some keys have no kid at all (a lone secret or PEM key), those are tried as
// for a token without `kid`; otherwise unknown_key. Without `kid`, every key
// of the token's algorithm is tried (at most max_keys_tried).
result<claims, token_error> verify(std::string_view token, const key_set& keys, const verify_options& options,
                                   std::int64_t now);

// decisions.md "Tokens": an entry ending in '*' matches every room starting
// with what precedes the '*' ("team-*" matches "team-" and "team-blue"; "*"
// matches all); other entries match exactly. No `rooms` claim: any room.
bool room_allowed(const claims& c, std::string_view room) noexcept;

}  // namespace sigkit::auth
