// RFC 7515 Appendix A.1-A.3, byte for byte. Their claims ({"iss":"joe",
// "exp":1300819380, ...}) carry no `sub`, so a verified example ends in
// missing_subject: the signature was accepted and the claim rules ran. The
// claim rules themselves are tested with tokens signed in jwt_test.cpp.
#include "sigkit/auth/jwt.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>

#include "sigkit/auth/base64url.hpp"
#include "token_signer.hpp"

using namespace sigkit::auth;

namespace {

// A.1-A.3 share this payload: {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
constexpr std::string_view payload_b64 =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::int64_t before_expiry = 1300819379;

// A.1: {"typ":"JWT",\r\n "alg":"HS256"}
constexpr std::string_view a1_header_b64 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
constexpr std::string_view a1_signature_b64 = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view a1_jwk =
    R"({"kty":"oct",
        "k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"})";

// A.2: {"alg":"RS256"}, and the RFC's RSA JWK with its private members,
// which a verifier must ignore.
constexpr std::string_view a2_header_b64 = "eyJhbGciOiJSUzI1NiJ9";
constexpr std::string_view a2_signature_b64 =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";
constexpr std::string_view a2_jwk = R"({"kty":"RSA",
  "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
  "e":"AQAB",
  "d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ"})";

// A.3: {"alg":"ES256"}, the RFC's P-256 JWK (with its private d).
constexpr std::string_view a3_header_b64 = "eyJhbGciOiJFUzI1NiJ9";
constexpr std::string_view a3_signature_b64 =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr std::string_view a3_jwk = R"({"kty":"EC","crv":"P-256",
  "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
  "d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"})";

std::string join(std::string_view h, std::string_view p, std::string_view s) {
  return std::string(h) + "." + std::string(p) + "." + std::string(s);
}

// The same bytes with one bit of the signature flipped, re-encoded canonically.
std::string flip_signature_bit(std::string_view h, std::string_view p, std::string_view s) {
  auto sig = base64url_decode(s).value();
  sig[sig.size() / 2] = static_cast<char>(sig[sig.size() / 2] ^ 0x01);
  return join(h, p, base64url_encode(sig));
}

}  // namespace

TEST_CASE("RFC 7515 A.1: the HS256 example verifies with the JWK's k", "[auth][rfc7515]") {
  CHECK(base64url_decode(a1_header_b64).value() == "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");
  CHECK(base64url_decode(payload_b64).value() ==
        "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}");

  const auto keys = key_set::jwks(a1_jwk);
  REQUIRE(keys.ok());
  REQUIRE(keys->keys().size() == 1);
  CHECK(keys->keys()[0].alg() == algorithm::hs256);

  const auto input = std::string(a1_header_b64) + "." + std::string(payload_b64);
  CHECK(keys->keys()[0].verifies(input, base64url_decode(a1_signature_b64).value()));
  // The test signer reproduces the RFC's MAC, so tokens it makes elsewhere are trustworthy.
  const auto k = base64url_decode(
                     "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow")
                     .value();
  CHECK(base64url_encode(test::hs256(k, input)) == a1_signature_b64);

  const auto token = join(a1_header_b64, payload_b64, a1_signature_b64);
  CHECK(verify(token, *keys, {}, before_expiry).error() == token_error::missing_subject);
  CHECK(verify(flip_signature_bit(a1_header_b64, payload_b64, a1_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::bad_signature);

  // The raw secret given on its own is the same key.
  const auto secret = key_set::hs256_secret(k);
  REQUIRE(secret.ok());
  CHECK(verify(token, *secret, {}, before_expiry).error() == token_error::missing_subject);
}

TEST_CASE("RFC 7515 A.2: the RS256 example verifies with the RSA JWK", "[auth][rfc7515]") {
  const auto keys = key_set::jwks(a2_jwk);
  REQUIRE(keys.ok());
  REQUIRE(keys->keys().size() == 1);
  CHECK(keys->keys()[0].alg() == algorithm::rs256);
  CHECK(keys->keys()[0].description() == "RS256 (RSA 2048 bits)");

  const auto input = std::string(a2_header_b64) + "." + std::string(payload_b64);
  CHECK(keys->keys()[0].verifies(input, base64url_decode(a2_signature_b64).value()));
  CHECK(verify(join(a2_header_b64, payload_b64, a2_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::missing_subject);
  CHECK(verify(flip_signature_bit(a2_header_b64, payload_b64, a2_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::bad_signature);
  // The A.2 signature under A.1's header (alg HS256): the RSA key does not accept HS256.
  CHECK(verify(join(a1_header_b64, payload_b64, a2_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::algorithm_mismatch);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("RFC 7515 A.3: the ES256 example verifies with the EC JWK", "[auth][rfc7515]") {
  const auto keys = key_set::jwks(a3_jwk);
  REQUIRE(keys.ok());
  REQUIRE(keys->keys().size() == 1);
  CHECK(keys->keys()[0].alg() == algorithm::es256);

  const auto input = std::string(a3_header_b64) + "." + std::string(payload_b64);
  const auto raw = base64url_decode(a3_signature_b64).value();
  REQUIRE(raw.size() == 64);
  CHECK(keys->keys()[0].verifies(input, raw));
  CHECK(verify(join(a3_header_b64, payload_b64, a3_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::missing_subject);
  CHECK(verify(flip_signature_bit(a3_header_b64, payload_b64, a3_signature_b64), *keys, {}, before_expiry).error() ==
        token_error::bad_signature);
  // R and S swapped is not the signature.
  const auto swapped = raw.substr(32) + raw.substr(0, 32);
  CHECK_FALSE(keys->keys()[0].verifies(input, swapped));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("RFC 7515 examples are refused by the other examples' keys", "[auth][rfc7515]") {
  auto hs = key_set::jwks(a1_jwk);
  auto rs = key_set::jwks(a2_jwk);
  auto es = key_set::jwks(a3_jwk);
  REQUIRE((hs.ok() && rs.ok() && es.ok()));
  auto hs_rs = key_set::merge(std::move(*hs), std::move(*rs));
  REQUIRE(hs_rs.ok());
  auto all = key_set::merge(std::move(*hs_rs), std::move(*es));
  REQUIRE(all.ok());
  CHECK(all->keys().size() == 3);
  // Each example finds its own key among the three by its alg.
  for (const auto& [h, s] : {std::pair{a1_header_b64, a1_signature_b64}, std::pair{a2_header_b64, a2_signature_b64},
                             std::pair{a3_header_b64, a3_signature_b64}})
    CHECK(verify(join(h, payload_b64, s), *all, {}, before_expiry).error() == token_error::missing_subject);
  // The ES256 signature under the RS256 header: a 64-byte "RSA signature".
  CHECK(verify(join(a2_header_b64, payload_b64, a3_signature_b64), *all, {}, before_expiry).error() ==
        token_error::bad_signature);
  CHECK(verify(join(a3_header_b64, payload_b64, a1_signature_b64), *all, {}, before_expiry).error() ==
        token_error::bad_signature);
}
