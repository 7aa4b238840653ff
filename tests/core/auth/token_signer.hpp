// A tiny JWS signer for the tests: the product only verifies. Keys are
// generated per test run (EVP_PKEY_Q_keygen), never checked in.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sigkit::auth::test {

struct pkey_deleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using private_key = std::unique_ptr<EVP_PKEY, pkey_deleter>;

// Generated once per process and shared: RSA keygen takes a while.
EVP_PKEY* rsa_key();          // RSA 2048
EVP_PKEY* other_rsa_key();    // a second RSA 2048, for "signed by someone else"
EVP_PKEY* p256_key();         // EC P-256
EVP_PKEY* other_p256_key();
private_key generate(const char* type, const char* param);  // ("RSA", "1024"), ("EC", "P-384"), ("ED25519", nullptr)

// The public half as PEM: SubjectPublicKeyInfo, or PKCS#1 for `pkcs1`.
std::string public_pem(EVP_PKEY* key, bool pkcs1 = false);
std::string private_pem(EVP_PKEY* key);
// The public half as one JWK object (RSA n/e or EC P-256 x/y), as JSON text.
std::string public_jwk(EVP_PKEY* key, std::optional<std::string> kid = {}, std::optional<std::string> alg = {});
// An "oct" JWK for an HMAC secret.
std::string secret_jwk(std::string_view secret, std::optional<std::string> kid = {});

// Raw signatures over `signing_input` (the ASCII "header.payload").
std::string hs256(std::string_view secret, std::string_view signing_input);
std::string rs256(EVP_PKEY* key, std::string_view signing_input);
// R || S (RFC 7518 §3.4), or OpenSSL's DER form when `der`.
std::string es256(EVP_PKEY* key, std::string_view signing_input, bool der = false);

// base64url(header) "." base64url(payload)
std::string signing_input(std::string_view header_json, std::string_view payload_json);
// signing_input "." base64url(signature)
std::string compact(std::string_view signing_input, std::string_view signature);

// Whole tokens, header and payload given as JSON text.
std::string hs256_token(std::string_view header_json, std::string_view payload_json, std::string_view secret);
std::string rs256_token(std::string_view header_json, std::string_view payload_json, EVP_PKEY* key);
std::string es256_token(std::string_view header_json, std::string_view payload_json, EVP_PKEY* key);

}  // namespace sigkit::auth::test
