// Credential keys (RFC 8489 §9) and TURN REST credentials. SASLprep comes
// from GNU libidn's stringprep, a maintained implementation of RFC 3454's
// tables, rather than a hand-copied subset of them.
#include "sigkit/stun/credentials.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stringprep.h>

#include <charconv>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace sigkit::stun {

std::string_view to_string(credential_errc e) noexcept {
  switch (e) {
    case credential_errc::invalid_utf8: return "not valid UTF-8";
    case credential_errc::prohibited_character: return "contains a character SASLprep prohibits";
    case credential_errc::bidi_violation: return "mixes right-to-left and left-to-right text (RFC 3454 §6)";
    case credential_errc::preparation_failed: return "SASLprep failed";
  }
  return "?";
}

namespace {

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
// U+10FFFF. libidn expects valid input, so it is checked here first.
bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= n) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    constexpr std::uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::vector<std::byte> to_bytes(std::string_view s) {
  const auto b = std::as_bytes(std::span(s.data(), s.size()));
  return {b.begin(), b.end()};
}

result<std::string, credential_error> prepare(std::string_view password, password_preparation prep) {
  if (prep == password_preparation::none) return std::string(password);
  return saslprep(password);
}

}  // namespace

result<std::string, credential_error> saslprep(std::string_view utf8) {
  if (!is_valid_utf8(utf8)) return credential_error{credential_errc::invalid_utf8, {}};
  // libidn takes a C string; U+0000 is prohibited by SASLprep anyway
  // (RFC 4013 §2.3, RFC 3454 C.2.1), so say so rather than truncate.
  if (utf8.find('\0') != std::string_view::npos)
    return credential_error{credential_errc::prohibited_character, "U+0000"};

  const std::string in(utf8);
  char* out = nullptr;
  // Flags 0: unassigned code points allowed, as for a "query" (RFC 3454 §7).
  const int rc = stringprep_profile(in.c_str(), &out, "SASLprep", static_cast<Stringprep_profile_flags>(0));
  const std::unique_ptr<char, decltype(&std::free)> owned(out, &std::free);
  switch (rc) {
    case STRINGPREP_OK: return std::string(owned ? owned.get() : "");
    case STRINGPREP_CONTAINS_PROHIBITED:
    case STRINGPREP_CONTAINS_UNASSIGNED:
      return credential_error{credential_errc::prohibited_character, stringprep_strerror(static_cast<Stringprep_rc>(rc))};
    case STRINGPREP_BIDI_BOTH_L_AND_RAL:
    case STRINGPREP_BIDI_LEADTRAIL_NOT_RAL:
    case STRINGPREP_BIDI_CONTAINS_PROHIBITED:
      return credential_error{credential_errc::bidi_violation, stringprep_strerror(static_cast<Stringprep_rc>(rc))};
    default:
      return credential_error{credential_errc::preparation_failed, stringprep_strerror(static_cast<Stringprep_rc>(rc))};
  }
}

result<std::vector<std::byte>, credential_error> long_term_key(std::string_view username, std::string_view realm,
                                                               std::string_view password,
                                                               password_preparation prep) {
  auto prepared = prepare(password, prep);
  if (!prepared) return prepared.error();
  std::string input;
  input.reserve(username.size() + realm.size() + prepared->size() + 2);
  input.append(username).append(":").append(realm).append(":").append(*prepared);

  // RFC 8489 §9.2.2: a 16-byte MD5 digest. MD5 is what the protocol
  // specifies, not a choice: it is key derivation, not a password store.
  std::vector<std::byte> key(16);
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), reinterpret_cast<unsigned char*>(key.data()), &len, EVP_md5(),
                 nullptr) != 1 ||
      len != key.size())
    throw std::runtime_error("OpenSSL MD5 unavailable");  // a FIPS-only OpenSSL: a start-up failure
  return key;
}

result<std::vector<std::byte>, credential_error> short_term_key(std::string_view password,
                                                                password_preparation prep) {
  auto prepared = prepare(password, prep);
  if (!prepared) return prepared.error();
  return to_bytes(*prepared);
}

std::string base64_encode(std::span<const std::byte> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  if (bytes.empty()) return out;
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

turn_rest_credentials make_turn_rest_credentials(std::string_view shared_secret, std::string_view user,
                                                 std::int64_t now_unix_seconds, std::int64_t ttl_seconds,
                                                 char separator) {
  turn_rest_credentials c;
  c.expires_at_ = now_unix_seconds + ttl_seconds;
  c.username_ = std::to_string(c.expires_at_);
  if (!user.empty()) c.username_.append(1, separator).append(user);

  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  static const unsigned char empty = 0;  // OpenSSL reads a null key as "reuse the previous one"
  const auto* key = shared_secret.empty() ? &empty : reinterpret_cast<const unsigned char*>(shared_secret.data());
  if (HMAC(EVP_sha1(), key, static_cast<int>(shared_secret.size()),
           reinterpret_cast<const unsigned char*>(c.username_.data()), c.username_.size(), mac, &mac_len) == nullptr)
    throw std::runtime_error("OpenSSL HMAC-SHA1 failed");
  c.password_ = base64_encode(std::as_bytes(std::span(mac, mac_len)));
  return c;
}

std::optional<turn_rest_username> parse_turn_rest_username(std::string_view username, char separator) {
  const auto sep = username.find(separator);
  const auto expiry = username.substr(0, sep);
  turn_rest_username out;
  const auto [end, ec] = std::from_chars(expiry.data(), expiry.data() + expiry.size(), out.expires_at_);
  if (expiry.empty() || ec != std::errc{} || end != expiry.data() + expiry.size() || out.expires_at_ < 0)
    return std::nullopt;
  if (sep != std::string_view::npos) out.user_ = std::string(username.substr(sep + 1));
  return out;
}

}  // namespace sigkit::stun
