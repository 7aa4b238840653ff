// A catalogue of forged, damaged and wrong tokens, each refused for the
// right reason. The attacks are the classic ones against JWT verifiers
// (RFC 8725 §2): `none`, HS/RS key confusion, signature stripping and
// tampering, parser differentials, unknown critical headers.
#include "sigkit/auth/jwt.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>

#include <nlohmann/json.hpp>

#include "sigkit/auth/base64url.hpp"
#include "token_signer.hpp"

using namespace sigkit::auth;
using json = nlohmann::json;

namespace {

constexpr std::int64_t now = 1'700'000'000;
const std::string secret = "forged-token catalogue secret, 32 bytes or more";
const std::string claims_text = json{{"sub", "alice"}, {"exp", now + 600}}.dump();

const key_set& hs_keys() {
  static const key_set k = key_set::hs256_secret(secret).value();
  return k;
}
const key_set& rsa_keys() {
  static const key_set k = key_set::public_key_pem(test::public_pem(test::rsa_key())).value();
  return k;
}
const key_set& ec_keys() {
  static const key_set k = key_set::public_key_pem(test::public_pem(test::p256_key())).value();
  return k;
}

token_error refusal(std::string_view token, const key_set& keys, const verify_options& o = {}) {
  const auto r = verify(token, keys, o, now);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

// A token from its three parts as bytes, each encoded canonically.
std::string token_of(std::string_view header, std::string_view payload, std::string_view signature) {
  return test::compact(test::signing_input(header, payload), signature);
}

struct parts {
  std::string header, payload, signature;  // decoded
};
parts split(std::string_view token) {
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  return {base64url_decode(token.substr(0, d1)).value(), base64url_decode(token.substr(d1 + 1, d2 - d1 - 1)).value(),
          base64url_decode(token.substr(d2 + 1)).value()};
}

std::string flip(std::string s, std::size_t at, unsigned char bit = 0x01) {
  s[at] = static_cast<char>(static_cast<unsigned char>(s[at]) ^ bit);
  return s;
}

// One valid token per algorithm, and the keys that accept it.
struct signed_token {
  const char* alg;
  std::string token;
  const key_set& keys;
};
std::vector<signed_token> valid_tokens() {
  return {{"HS256", test::hs256_token(R"({"alg":"HS256","typ":"JWT"})", claims_text, secret), hs_keys()},
          {"RS256", test::rs256_token(R"({"alg":"RS256","typ":"JWT"})", claims_text, test::rsa_key()), rsa_keys()},
          {"ES256", test::es256_token(R"({"alg":"ES256","typ":"JWT"})", claims_text, test::p256_key()), ec_keys()}};
}

}  // namespace

TEST_CASE("forged: the catalogue's valid tokens do verify", "[auth][forged]") {
  for (const auto& t : valid_tokens()) {
    INFO(t.alg);
    CHECK(verify(t.token, t.keys, {}, now).ok());
  }
}

TEST_CASE("forged: alg none, in any spelling, with or without a signature", "[auth][forged]") {
  const auto mac = test::hs256(secret, test::signing_input(R"({"alg":"none"})", claims_text));
  for (const key_set* keys : {&hs_keys(), &rsa_keys(), &ec_keys()}) {
    CHECK(refusal(test::signing_input(R"({"alg":"none"})", claims_text) + ".", *keys) ==
          token_error::unsupported_algorithm);
    CHECK(refusal(token_of(R"({"alg":"none"})", claims_text, mac), *keys) == token_error::unsupported_algorithm);
    for (const char* spelling : {"None", "nOnE", "NONE", "none ", ""})
      CHECK(refusal(test::signing_input(json{{"alg", spelling}}.dump(), claims_text) + ".", *keys) ==
            token_error::unsupported_algorithm);
  }
  // Without an alg at all, the header is malformed.
  CHECK(refusal(test::signing_input(R"({"typ":"JWT"})", claims_text) + ".", hs_keys()) == token_error::malformed);
}

TEST_CASE("forged: algorithms sigkit does not verify, and case variants", "[auth][forged]") {
  for (const char* alg : {"hs256", "Hs256", "HS384", "HS512", "RS384", "RS512", "PS256", "ES384", "ES512", "ES256K",
                          "EdDSA", "RSA-OAEP", "dir"}) {
    INFO(alg);
    const auto header = json{{"alg", alg}}.dump();
    const auto input = test::signing_input(header, claims_text);
    CHECK(refusal(test::compact(input, test::hs256(secret, input)), hs_keys()) == token_error::unsupported_algorithm);
  }
}

TEST_CASE("forged: HS256 signed with the RSA public key as the HMAC secret (key confusion)", "[auth][forged]") {
  // The attack: a verifier that lets the token pick HMAC uses the public key
  // bytes it holds as the secret, and the attacker knows those bytes.
  for (const auto& pem : {test::public_pem(test::rsa_key()), test::public_pem(test::rsa_key(), true)}) {
    const auto forged = test::hs256_token(R"({"alg":"HS256","typ":"JWT"})", claims_text, pem);
    CHECK(refusal(forged, rsa_keys()) == token_error::algorithm_mismatch);
    const auto from_jwks = key_set::jwks(test::public_jwk(test::rsa_key())).value();
    CHECK(refusal(forged, from_jwks) == token_error::algorithm_mismatch);
    // Next to a real HS256 key, only that key is tried, and it does not verify.
    auto mixed = key_set::merge(key_set::hs256_secret(std::string(32, 'z')).value(),
                                key_set::public_key_pem(pem).value())
                     .value();
    CHECK(refusal(forged, mixed) == token_error::bad_signature);
  }
  const auto ec_pem = test::public_pem(test::p256_key());
  CHECK(refusal(test::hs256_token(R"({"alg":"HS256"})", claims_text, ec_pem), ec_keys()) ==
        token_error::algorithm_mismatch);
}

TEST_CASE("forged: a token for another kind of key", "[auth][forged]") {
  const auto rs = test::rs256_token(R"({"alg":"RS256"})", claims_text, test::rsa_key());
  const auto es = test::es256_token(R"({"alg":"ES256"})", claims_text, test::p256_key());
  CHECK(refusal(rs, hs_keys()) == token_error::algorithm_mismatch);
  CHECK(refusal(rs, ec_keys()) == token_error::algorithm_mismatch);
  CHECK(refusal(es, rsa_keys()) == token_error::algorithm_mismatch);
  CHECK(refusal(es, hs_keys()) == token_error::algorithm_mismatch);
  // A valid RS256 signature relabelled ES256, and the other way round.
  const auto rs_parts = split(rs);
  CHECK(refusal(token_of(R"({"alg":"ES256"})", claims_text, rs_parts.signature), ec_keys()) ==
        token_error::bad_signature);
  const auto es_parts = split(es);
  CHECK(refusal(token_of(R"({"alg":"RS256"})", claims_text, es_parts.signature), rsa_keys()) ==
        token_error::bad_signature);
}

TEST_CASE("forged: ES256 signatures not in the 64-byte R || S form", "[auth][forged]") {
  const auto input = test::signing_input(R"({"alg":"ES256"})", claims_text);
  // OpenSSL's own DER encoding of a genuine signature: RFC 7518 §3.4 forbids it.
  const auto der = test::es256(test::p256_key(), input, true);
  CHECK(der.size() > 64);
  CHECK(refusal(test::compact(input, der), ec_keys()) == token_error::bad_signature);
  // Zero, and out-of-range R and S (the group order n, and all ones).
  CHECK(refusal(test::compact(input, std::string(64, '\0')), ec_keys()) == token_error::bad_signature);
  const std::string n = base64url_decode("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE").value();
  REQUIRE(n.size() == 32);
  CHECK(refusal(test::compact(input, n + n), ec_keys()) == token_error::bad_signature);
  CHECK(refusal(test::compact(input, std::string(64, '\xff')), ec_keys()) == token_error::bad_signature);
  const auto good = test::es256(test::p256_key(), input);
  CHECK(refusal(test::compact(input, good.substr(0, 32) + std::string(32, '\0')), ec_keys()) ==
        token_error::bad_signature);
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("forged: truncated and extended signatures", "[auth][forged]") {
  for (const auto& t : valid_tokens()) {
    INFO(t.alg);
    const auto p = split(t.token);
    CHECK(refusal(token_of(p.header, p.payload, p.signature.substr(0, p.signature.size() - 1)), t.keys) ==
          token_error::bad_signature);
    CHECK(refusal(token_of(p.header, p.payload, p.signature.substr(0, p.signature.size() / 2)), t.keys) ==
          token_error::bad_signature);
    CHECK(refusal(token_of(p.header, p.payload, p.signature.substr(0, 1)), t.keys) == token_error::bad_signature);
    CHECK(refusal(token_of(p.header, p.payload, p.signature + '\0'), t.keys) == token_error::bad_signature);
    CHECK(refusal(token_of(p.header, p.payload, p.signature + p.signature), t.keys) == token_error::bad_signature);
    // Stripped: the signature part empty, or the token cut before it.
    CHECK(refusal(test::signing_input(p.header, p.payload) + ".", t.keys) == token_error::malformed);
    CHECK(refusal(test::signing_input(p.header, p.payload), t.keys) == token_error::malformed);
  }
}

TEST_CASE("forged: one bit flipped anywhere in header, payload or signature", "[auth][forged]") {
  for (const auto& t : valid_tokens()) {
    INFO(t.alg);
    const auto p = split(t.token);
    for (std::size_t i = 0; i < p.signature.size(); ++i)
      CHECK(refusal(token_of(p.header, p.payload, flip(p.signature, i, static_cast<unsigned char>(1u << (i % 8)))),
                    t.keys) == token_error::bad_signature);
    // "alice" -> "alicd"; "JWT" -> "JWU": still valid JSON, so only the signature can tell.
    CHECK(refusal(token_of(p.header, flip(p.payload, p.payload.find("alice") + 4), p.signature), t.keys) ==
          token_error::bad_signature);
    CHECK(refusal(token_of(flip(p.header, p.header.find("JWT") + 2), p.payload, p.signature), t.keys) ==
          token_error::bad_signature);
    // The expiry pushed a day further.
    const auto later = json{{"sub", "alice"}, {"exp", now + 600 + 86400}}.dump();
    CHECK(refusal(token_of(p.header, later, p.signature), t.keys) == token_error::bad_signature);
    // Every character of the token text replaced by another base64url character.
    for (std::size_t i = 0; i < t.token.size(); ++i) {
      if (t.token[i] == '.') continue;
      auto changed = t.token;
      changed[i] = changed[i] == 'A' ? 'B' : 'A';
      const auto r = verify(changed, t.keys, {}, now);
      CHECK_FALSE(r.ok());
    }
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("forged: non-canonical base64url that decodes to the same bytes", "[auth][forged]") {
  // A 32-byte MAC is 43 characters with 2 unused bits: setting them would
  // leave the bytes alone, so a lenient decoder would accept the altered text.
  const auto token = test::hs256_token(R"({"alg":"HS256"})", claims_text, secret);
  const auto last = token.back();
  const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const auto value = alphabet.find(last);
  REQUIRE(value % 4 == 0);
  for (std::size_t low = 1; low < 4; ++low) {
    auto altered = token;
    altered.back() = alphabet[value + low];
    CHECK(refusal(altered, hs_keys()) == token_error::malformed);
  }
}

TEST_CASE("forged: critical header parameters", "[auth][forged]") {
  for (const char* header : {R"({"alg":"HS256","crit":["exp"],"exp":1800000000})", R"({"alg":"HS256","crit":[]})",
                             R"({"alg":"HS256","crit":"b64"})", R"({"alg":"HS256","b64":false,"crit":["b64"]})",
                             R"({"alg":"HS256","b64":false})", R"({"alg":"HS256","b64":true})"}) {
    INFO(header);
    CHECK(refusal(test::hs256_token(header, claims_text, secret), hs_keys()) == token_error::critical_header);
  }
  // Key-carrying headers are never used to find a key: the signature is
  // checked against sigserve's keys only.
  const auto embedded = R"({"alg":"RS256","jwk":)" + test::public_jwk(test::other_rsa_key()) + "}";
  CHECK(refusal(test::rs256_token(embedded, claims_text, test::other_rsa_key()), rsa_keys()) ==
        token_error::bad_signature);
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","jku":"https://evil.example/jwks"})", claims_text,
                                  test::other_rsa_key()),
                rsa_keys()) == token_error::bad_signature);
}

TEST_CASE("forged: padding, other alphabets and stray characters", "[auth][forged]") {
  // Each part padded the way base64 (RFC 4648 §4) would pad it: a 23-byte
  // header, the claims, and the 32-byte MAC all need '=' there.
  const auto token = test::hs256_token(R"({"alg":"HS256","x":"y"})", claims_text, secret);
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  const auto padding = [](std::size_t length) { return std::string((4 - length % 4) % 4, '='); };
  REQUIRE(!padding(d1).empty());
  REQUIRE(!padding(token.size() - d2 - 1).empty());
  CHECK(refusal(token.substr(0, d1) + padding(d1) + token.substr(d1), hs_keys()) == token_error::malformed);
  if (!padding(d2 - d1 - 1).empty())
    CHECK(refusal(token.substr(0, d2) + padding(d2 - d1 - 1) + token.substr(d2), hs_keys()) == token_error::malformed);
  CHECK(refusal(token + padding(token.size() - d2 - 1), hs_keys()) == token_error::malformed);
  CHECK(refusal(token + "==", hs_keys()) == token_error::malformed);
  for (const char stray : {'+', '/', ' ', '\n', '\0', '\x80', '%'}) {
    auto bad = token;
    bad[d1 + 5] = stray;
    CHECK(refusal(bad, hs_keys()) == token_error::malformed);
  }
  CHECK(refusal(" " + token, hs_keys()) == token_error::malformed);
  CHECK(refusal(token + "\r\n", hs_keys()) == token_error::malformed);
  CHECK(refusal("Bearer " + token, hs_keys()) == token_error::malformed);
}

TEST_CASE("forged: the wrong number of parts", "[auth][forged]") {
  const auto token = test::hs256_token(R"({"alg":"HS256"})", claims_text, secret);
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  CHECK(refusal(token.substr(0, d1), hs_keys()) == token_error::malformed);  // two dots missing
  CHECK(refusal(token.substr(0, d1) + token.substr(d1 + 1, d2 - d1 - 1), hs_keys()) == token_error::malformed);
  CHECK(refusal(token + ".AAAA", hs_keys()) == token_error::malformed);  // four parts
  // JWE compact serialisation: five parts (RFC 7516 §3.1).
  const auto jwe = base64url_encode(R"({"alg":"RSA-OAEP","enc":"A256GCM"})") + "." +
                   base64url_encode(std::string(256, 'k')) + "." + base64url_encode(std::string(12, 'i')) + "." +
                   base64url_encode(claims_text) + "." + base64url_encode(std::string(16, 't'));
  CHECK(refusal(jwe, hs_keys()) == token_error::malformed);
  CHECK(refusal(".", hs_keys()) == token_error::malformed);
  CHECK(refusal("..", hs_keys()) == token_error::malformed);
  CHECK(refusal("...", hs_keys()) == token_error::malformed);
  CHECK(refusal(token.substr(d1), hs_keys()) == token_error::malformed);  // no header
  CHECK(refusal(token.substr(0, d1 + 1) + token.substr(d2), hs_keys()) == token_error::malformed);  // no payload
}

TEST_CASE("forged: a huge token is refused before it is read", "[auth][forged]") {
  CHECK(refusal(std::string(max_token_size + 1, 'A'), hs_keys()) == token_error::malformed);
  CHECK(refusal(std::string(1 << 20, 'A'), hs_keys()) == token_error::malformed);
  const auto long_claims = json{{"sub", std::string(7000, 'a')}, {"exp", now + 600}}.dump();
  const auto big = test::hs256_token(R"({"alg":"HS256"})", long_claims, secret);
  REQUIRE(big.size() > max_token_size);
  CHECK(refusal(big, hs_keys()) == token_error::malformed);
}

TEST_CASE("forged: headers that are not a JSON object with a string alg", "[auth][forged]") {
  for (const char* header : {"[]", R"(["alg","HS256"])", R"("HS256")", "null", "1", "{", "",
                             R"({"alg":"HS256"}{})", R"({"alg":256})", R"({"alg":null})", R"({"alg":["HS256"]})",
                             R"({"alg":{"HS256":true}})", R"({"typ":"JWT"})", R"({"alg":"none","alg":"HS256"})",
                             R"({"alg":"HS256","alg":"HS256"})", R"({"alg":"HS256","x":{"a":1,"a":1}})",
                             "{\"alg\":\"HS256\",\"typ\":\"\xc0\xaf\"}", R"({"alg":"HS256","kid":42})",
                             R"({"alg":"HS256","kid":null})", "\xEF\xBB\xBF{\"alg\":\"HS256\"}"}) {
    INFO(header);
    const auto input = base64url_encode(header) + "." + base64url_encode(claims_text);
    const auto token = test::compact(input, test::hs256(secret, input));
    // An empty header is an empty first part.
    CHECK(refusal(token, hs_keys()) == token_error::malformed);
  }
  // A NUL byte, where a lenient parser would stop reading.
  const auto with_nul = std::string(R"({"alg":"HS256"})") + '\0' + R"({"alg":"none"})";
  const auto nul_input = base64url_encode(with_nul) + "." + base64url_encode(claims_text);
  CHECK(refusal(test::compact(nul_input, test::hs256(secret, nul_input)), hs_keys()) == token_error::malformed);
  // Trailing whitespace inside the JSON is still one object.
  CHECK(verify(test::hs256_token("{\"alg\":\"HS256\"}\r\n", claims_text, secret), hs_keys(), {}, now).ok());
}

TEST_CASE("forged: properly signed tokens with unacceptable claims", "[auth][forged]") {
  const auto rs = [](const json& c) { return test::rs256_token(R"({"alg":"RS256"})", c.dump(), test::rsa_key()); };
  const verify_options strict{.issuer = "https://id.example", .audience = "sigserve"};
  const json base = {{"sub", "alice"}, {"exp", now + 600}, {"iss", "https://id.example"}, {"aud", "sigserve"}};
  auto with = [&](const char* name, json v) {
    auto c = base;
    if (v.is_discarded())
      c.erase(name);
    else
      c[name] = std::move(v);
    return c;
  };
  const json gone(json::value_t::discarded);
  struct row {
    const char* what;
    json claims;
    token_error expected;
  };
  const row rows[] = {
      {"exp missing", with("exp", gone), token_error::missing_expiry},
      {"exp a string", with("exp", std::to_string(now + 600)), token_error::bad_claims},
      {"exp in the past", with("exp", now - 1), token_error::expired},
      {"nbf in the future", with("nbf", now + 60), token_error::not_yet_valid},
      {"iat in the future", with("iat", now + 60), token_error::issued_in_future},
      {"wrong iss", with("iss", "https://id.example.evil"), token_error::wrong_issuer},
      {"no iss", with("iss", gone), token_error::wrong_issuer},
      {"aud string mismatch", with("aud", "sigserve-staging"), token_error::wrong_audience},
      {"aud array mismatch", with("aud", {"api", "web"}), token_error::wrong_audience},
      {"rooms not an array", with("rooms", "lobby"), token_error::bad_claims},
      {"rooms of numbers", with("rooms", {1, 2}), token_error::bad_claims},
      {"sub missing", with("sub", gone), token_error::missing_subject},
      {"sub empty", with("sub", ""), token_error::missing_subject},
      {"sub a number", with("sub", 1234), token_error::bad_claims},
  };
  CHECK(verify(rs(base), rsa_keys(), strict, now).ok());
  for (const auto& r : rows) {
    INFO(r.what);
    CHECK(refusal(rs(r.claims), rsa_keys(), strict) == r.expected);
  }
  CHECK(ERR_peek_error() == 0);
}
