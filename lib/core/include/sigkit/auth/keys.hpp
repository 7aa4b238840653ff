// The keys sigserve verifies tokens with. Each key is pinned to exactly one
// algorithm when it is loaded, from what the key is (an HMAC secret, an RSA
// or a P-256 public key), so a token can never choose how it is checked: the
// confusion where an HS256 token is "verified" with an RSA public key's bytes
// as the HMAC secret cannot be expressed here (RFC 8725 §2.1, §3.1).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace sigkit::auth {

// The JWS algorithms sigkit verifies (RFC 7518 §3.1). Anything else, "none"
// included, is refused.
enum class algorithm { hs256, rs256, es256 };

// The registered `alg` name: "HS256", "RS256", "ES256".
std::string_view to_string(algorithm a) noexcept;
// Exact, case-sensitive (RFC 7515 §4.1.1): "hs256" and "None" are unknown.
std::optional<algorithm> algorithm_from_string(std::string_view name) noexcept;

// Frees an EVP_PKEY (a unique_ptr deleter).
struct pkey_free {
  void operator()(evp_pkey_st* p) const noexcept;
};

// RFC 7518 §3.2: an HS256 key must be at least as long as the hash output.
inline constexpr std::size_t min_hs256_secret_size = 32;
// RFC 7518 §3.3: RS256 keys of 2048 bits or more.
inline constexpr int min_rsa_bits = 2048;

// One key and the one algorithm it accepts. Immutable once loaded; a const
// key may be used from several threads at once (OpenSSL 3 allows concurrent
// use of an EVP_PKEY nobody modifies). Movable, not copyable: an HS256
// secret is wiped from memory when its key goes away.
class verification_key {
 public:
  verification_key(verification_key&& other) noexcept;
  verification_key& operator=(verification_key&& other) noexcept;
  verification_key(const verification_key&) = delete;
  verification_key& operator=(const verification_key&) = delete;
  ~verification_key();

  algorithm alg() const noexcept { return alg_; }
  // The JWK `kid`, if the key has one; keys given on their own (a secret, a
  // PEM file) have none unless one was assigned.
  const std::optional<std::string>& kid() const noexcept { return kid_; }
  // For start-up logs: `RS256 (RSA 2048 bits) kid "a1"`. Never key material.
  std::string description() const;

  // Whether `signature` (the decoded third part of a compact JWS) is this
  // key's signature over `signing_input` (the ASCII "header.payload").
  // HS256 compares MACs in constant time; ES256 expects the 64-byte R || S
  // of RFC 7518 §3.4, so a DER signature is refused.
  bool verifies(std::string_view signing_input, std::string_view signature) const noexcept;

 private:
  friend class key_set;
  verification_key(algorithm alg, std::optional<std::string> kid, std::string secret,
                   std::unique_ptr<evp_pkey_st, pkey_free> pkey) noexcept;
  void wipe() noexcept;

  algorithm alg_;
  std::optional<std::string> kid_;
  std::string secret_;                           // HS256
  std::unique_ptr<evp_pkey_st, pkey_free> pkey_;  // RS256, ES256
};

// Every key sigserve was given: --auth-hs256-secret, --auth-public-key,
// --auth-jwks, merged. Errors are one line for an operator, never key bytes.
class key_set {
 public:
  key_set() = default;  // empty: verifies nothing

  // The secret's bytes exactly as given (not base64-decoded; a file's
  // trailing newline is the caller's to strip). Refused under 32 bytes.
  static result<key_set, std::string> hs256_secret(std::string secret, std::optional<std::string> kid = {});

  // One PEM public key: "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC
  // KEY" (PKCS#1). RSA of at least 2048 bits becomes RS256, EC on P-256
  // becomes ES256; other key types and curves, private keys and certificates
  // are refused with a hint.
  static result<key_set, std::string> public_key_pem(std::string_view pem, std::optional<std::string> kid = {});

  // An RFC 7517 JWK Set ({"keys":[...]}) or a single JWK. Keys: kty "oct"
  // (k, at least 32 bytes) -> HS256; "RSA" (n, e) -> RS256; "EC" with crv
  // "P-256" (x, y) -> ES256. Skipped, and listed in skipped(): keys with
  // "use":"enc", with `key_ops` lacking "verify", and keys for algorithms or
  // curves sigkit does not verify (an `alg` of RS384, PS256, RSA-OAEP...;
  // P-384; kty OKP). Refused, with the whole set: an `alg` of another key
  // type (ES256 on an RSA key, "none"), a key that does not load (a short
  // secret, a small modulus, a point off the curve), two keys sharing a
  // kid, and a set left with no key. Private members (d, p, q...) are
  // ignored.
  static result<key_set, std::string> jwks(std::string_view json);

  // Both sets' keys; refused when a kid would name two keys.
  static result<key_set, std::string> merge(key_set a, key_set b);

  std::span<const verification_key> keys() const noexcept { return keys_; }
  bool empty() const noexcept { return keys_.empty(); }
  // One line per JWK that jwks() left out, and why: `key 1 kid "a0": "use":"enc"`.
  const std::vector<std::string>& skipped() const noexcept { return skipped_; }

 private:
  std::vector<verification_key> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace sigkit::auth
