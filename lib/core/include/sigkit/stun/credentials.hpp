// STUN/TURN credentials: the keys MESSAGE-INTEGRITY is computed with
// (RFC 8489 §9) and coturn's time-limited TURN REST credentials.
// Sans-I/O: no clock inside; the caller passes "now".
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

namespace sigkit::stun {

// How a password is prepared before it becomes key material.
enum class password_preparation {
  // RFC 4013 SASLprep (stringprep, Unicode 3.2 tables, via GNU libidn), as
  // RFC 5389 requires and RFC 5769's long-term vector exercises
  // ("The\u00ADM\u00AAtr\u2168" -> "TheMatrIX"). RFC 8489 names
  // OpaqueString (RFC 8265) instead; the two agree on every ASCII password,
  // and only SASLprep reproduces the published vector, so it is the default.
  saslprep,
  // The bytes as given. Some servers (and coturn for most setups) hash the
  // configured password without preparation; a probe can try both.
  none,
};

enum class credential_errc {
  invalid_utf8,        // the password is not UTF-8, so it cannot be prepared
  prohibited_character,  // RFC 4013 §2.3: e.g. control characters
  bidi_violation,      // RFC 3454 §6
  preparation_failed,  // any other stringprep failure
};
struct credential_error {
  credential_errc code_;
  std::string detail_;
};
std::string_view to_string(credential_errc e) noexcept;

// RFC 4013 SASLprep of a UTF-8 string, treating unassigned code points as a
// query would (RFC 3454 §7): libidn's tables are Unicode 3.2, so rejecting
// "unassigned" would refuse most post-2002 characters in real passwords.
result<std::string, credential_error> saslprep(std::string_view utf8);

// RFC 8489 §9.2.2 (RFC 5389 §15.4): key = MD5(username ":" realm ":" password)
// with the password prepared as asked. username and realm are used as the
// exact bytes sent in USERNAME and REALM.
result<std::vector<std::byte>, credential_error> long_term_key(
    std::string_view username, std::string_view realm, std::string_view password,
    password_preparation prep = password_preparation::saslprep);

// RFC 8489 §9.1.1: key = SASLprep(password) (OpaqueString in RFC 8489).
result<std::vector<std::byte>, credential_error> short_term_key(
    std::string_view password, password_preparation prep = password_preparation::saslprep);

// coturn `use-auth-secret` / draft-uberti-behave-turn-rest:
//   username = "<expiry unix seconds>:<user>"   (just "<expiry>" if user is empty)
//   password = base64(HMAC-SHA1(secret, username))
// Expiry is in seconds, not milliseconds: the unit people most often get wrong.
struct turn_rest_credentials {
  std::string username_;
  std::string password_;
  std::int64_t expires_at_ = 0;  // unix seconds
};
turn_rest_credentials make_turn_rest_credentials(std::string_view shared_secret, std::string_view user,
                                                 std::int64_t now_unix_seconds, std::int64_t ttl_seconds,
                                                 char separator = ':');

// Splits a REST username back into expiry and user, for diagnostics
// ("expired 40 s ago", "expiry looks like milliseconds").
struct turn_rest_username {
  std::int64_t expires_at_ = 0;
  std::string user_;
};
std::optional<turn_rest_username> parse_turn_rest_username(std::string_view username, char separator = ':');

// A REST username whose expiry is past 10^11 s (year 5138) was almost
// certainly written in milliseconds.
inline bool expiry_looks_like_milliseconds(std::int64_t expires_at) noexcept {
  return expires_at > 100'000'000'000LL;
}

// RFC 4648 §4 base64 with padding, as REST passwords use.
std::string base64_encode(std::span<const std::byte> bytes);

}  // namespace sigkit::stun
