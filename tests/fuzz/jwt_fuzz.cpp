// libFuzzer entry point for the JWT verifier. Arbitrary text, as a token,
// against an HS256, an RSA (RFC 7515 A.2) and an EC (A.3) key set must never
// crash, never verify (the fuzzer cannot forge a signature), and never leave
// an error in OpenSSL's per-thread queue, where it would confuse the server's
// next TLS call. The first byte picks what the rest is:
//
//   'J'  a JWK Set for key_set::jwks(); 'P' a PEM for key_set::public_key_pem()
//   'S'  "header JSON" NUL "claims JSON", which the harness signs with its own
//        HS256 key, so the claim rules are reached; whatever verifies must
//        satisfy them
//   anything else: a token, as is
//
// Base64url must be canonical: whatever decodes re-encodes to the same text.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/core/include \
//     tests/fuzz/jwt_fuzz.cpp lib/core/src/auth/*.cpp -lcrypto -o jwt_fuzz
//   mkdir -p corpus
//   printf 'xeyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk' > corpus/a1
//   printf 'xeyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q' > corpus/a3
//   printf 'S{"alg":"HS256","kid":"k","typ":"JWT"}\0{"sub":"alice","exp":1700000600,"nbf":1699999990,"iat":1.6999e9,"iss":"https://id.example","aud":["x","sigserve"],"rooms":["team-*"]}' > corpus/signed
//   printf 'J{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"e","use":"sig","alg":"ES256"},{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}' > corpus/jwks
//   (printf P; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 | openssl pkey -pubout) > corpus/pem
//   ./jwt_fuzz -max_len=9000 -max_total_time=120 corpus/
#include <openssl/err.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sigkit/auth/base64url.hpp"
#include "sigkit/auth/jwt.hpp"
#include "sigkit/auth/keys.hpp"

using namespace sigkit::auth;

namespace {

// abort() rather than assert(): the check must survive -DNDEBUG builds.
void require(bool ok) {
  if (!ok) std::abort();
}

constexpr std::int64_t now = 1'700'000'000;

key_set load(sigkit::result<key_set, std::string> r) {
  require(r.ok());
  return std::move(r).value();
}

const key_set& hs_keys() {
  static const key_set k = load(key_set::hs256_secret("jwt fuzz: a secret for raw tokens, not for signing"));
  return k;
}
const key_set& rsa_keys() {  // RFC 7515 A.2's public key
  static const key_set k = load(key_set::jwks(
      R"({"kty":"RSA","kid":"r","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"})"));
  return k;
}
const key_set& ec_keys() {  // RFC 7515 A.3's public key
  static const key_set k = load(key_set::jwks(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})"));
  return k;
}
// The harness's signing key for 'S' inputs, distinct from hs_keys().
const std::string signing_secret = "jwt fuzz: the harness signs claims with this";
const key_set& signing_keys() {
  static const key_set k = load(key_set::hs256_secret(signing_secret));
  return k;
}

void check_label(token_error e) {
  const auto label = to_string(e);
  require(label != "?" && !label.empty() && label.size() < 32);
}

void check_base64url(std::string_view text) {
  if (const auto decoded = base64url_decode(text)) require(base64url_encode(*decoded) == text);
}

void check_raw_token(std::string_view token) {
  const verify_options loose{.leeway = std::chrono::seconds(1'000'000'000)};
  for (const key_set* keys : {&hs_keys(), &rsa_keys(), &ec_keys()}) {
    const auto r = verify(token, *keys, loose, now);
    require(!r.ok());
    check_label(r.error());
    // Deterministic, and what it says about the form does not depend on the keys.
    const auto again = verify(token, *keys, loose, now);
    require(!again.ok() && again.error() == r.error());
    require(ERR_peek_error() == 0);
  }
  for (std::size_t at = 0, next = 0; at <= token.size(); at = next + 1) {
    next = std::min(token.find('.', at), token.size());
    check_base64url(token.substr(at, next - at));
  }
}

std::string hs256(std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  require(HMAC(EVP_sha256(), signing_secret.data(), static_cast<int>(signing_secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len) != nullptr);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

void check_signed(std::string_view text) {
  const auto nul = text.find('\0');
  if (nul == std::string_view::npos) return;
  const auto input = base64url_encode(text.substr(0, nul)) + "." + base64url_encode(text.substr(nul + 1));
  const auto token = input + "." + base64url_encode(hs256(input));
  const verify_options strict{
      .issuer = "https://id.example", .audience = "sigserve", .leeway = std::chrono::seconds(30)};
  for (const verify_options* o : {&strict, static_cast<const verify_options*>(nullptr)}) {
    const verify_options none{};
    const auto& options = o != nullptr ? *o : none;
    const auto r = verify(token, signing_keys(), options, now);
    require(ERR_peek_error() == 0);
    if (!r.ok()) {
      check_label(r.error());
      continue;
    }
    // Whatever verifies satisfies every rule.
    const auto leeway = options.leeway.count();
    require(!r->sub.empty());
    require(r->exp > now - leeway);
    require(!r->nbf || *r->nbf <= now + leeway);
    require(!r->iat || *r->iat <= now + leeway);
    if (options.issuer) require(r->iss == options.issuer);
    if (options.audience) require(std::find(r->aud.begin(), r->aud.end(), *options.audience) != r->aud.end());
    (void)room_allowed(*r, "team-blue");
    // The same claims under a key it was not signed with: never.
    require(!verify(token, hs_keys(), options, now).ok());
  }
}

void check_keys(char kind, std::string_view text) {
  auto r = kind == 'J' ? key_set::jwks(text) : key_set::public_key_pem(text);
  require(ERR_peek_error() == 0);
  if (!r.ok()) {
    require(!r.error().empty());
    return;
  }
  require(!r->empty());
  for (const auto& k : r->keys()) (void)k.description();
  // A token no key of the fuzzer's can have signed.
  const auto t = verify(
      "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIiwiZXhwIjoxODAwMDAwMDAwfQ."
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q",
      *r, {}, now);
  require(!t.ok());
  require(ERR_peek_error() == 0);
  auto merged = key_set::merge(std::move(*r), load(key_set::hs256_secret(std::string(32, 'm'))));
  (void)merged;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (!text.empty() && text[0] == 'S') {
    check_signed(text.substr(1));
  } else if (!text.empty() && (text[0] == 'J' || text[0] == 'P')) {
    check_keys(text[0], text.substr(1));
  } else {
    check_raw_token(text.empty() ? text : text.substr(1));
    check_raw_token(text);
  }
  return 0;
}
