// Loading keys: each is pinned to one algorithm, and everything else is
// refused with a line an operator can act on, never with key material.
#include "sigkit/auth/keys.hpp"

#include <catch2/catch.hpp>

#include <openssl/err.h>

#include <nlohmann/json.hpp>

#include "sigkit/auth/base64url.hpp"
#include "token_signer.hpp"

using namespace sigkit::auth;
using Catch::Matchers::Contains;

namespace {

constexpr std::string_view a3_x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr std::string_view a3_y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";

std::string ec_jwk(std::string_view x, std::string_view y, std::string_view crv = "P-256") {
  return nlohmann::json{{"kty", "EC"}, {"crv", crv}, {"x", x}, {"y", y}}.dump();
}

std::string set_of(std::initializer_list<std::string> jwks) {
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& k : jwks) keys.push_back(nlohmann::json::parse(k));
  return nlohmann::json{{"keys", keys}}.dump();
}

std::string with(std::string jwk, const char* name, nlohmann::json value) {
  auto j = nlohmann::json::parse(jwk);
  j[name] = std::move(value);
  return j.dump();
}

}  // namespace

TEST_CASE("an HS256 secret must be at least 32 bytes", "[auth][keys]") {
  const auto short_secret = key_set::hs256_secret("correct horse battery staple");  // 28 bytes
  REQUIRE_FALSE(short_secret.ok());
  CHECK_THAT(short_secret.error(), Contains("28 bytes") && Contains("at least 32"));
  CHECK_THAT(short_secret.error(), !Contains("horse"));
  CHECK_FALSE(key_set::hs256_secret("").ok());

  const auto ok = key_set::hs256_secret(std::string(32, 's'), "k1");
  REQUIRE(ok.ok());
  REQUIRE(ok->keys().size() == 1);
  CHECK(ok->keys()[0].alg() == algorithm::hs256);
  CHECK(ok->keys()[0].kid() == "k1");
  CHECK(ok->keys()[0].description() == "HS256 (secret of 32 bytes) kid \"k1\"");
}

TEST_CASE("a PEM public key decides RS256 or ES256", "[auth][keys]") {
  const auto rsa = key_set::public_key_pem(test::public_pem(test::rsa_key()));
  REQUIRE(rsa.ok());
  CHECK(rsa->keys()[0].alg() == algorithm::rs256);
  CHECK(rsa->keys()[0].description() == "RS256 (RSA 2048 bits)");
  CHECK_FALSE(rsa->keys()[0].kid().has_value());

  const auto pkcs1_pem = test::public_pem(test::rsa_key(), true);
  CHECK_THAT(pkcs1_pem, Contains("BEGIN RSA PUBLIC KEY"));
  const auto pkcs1 = key_set::public_key_pem(pkcs1_pem);
  REQUIRE(pkcs1.ok());
  CHECK(pkcs1->keys()[0].alg() == algorithm::rs256);

  const auto ec = key_set::public_key_pem(test::public_pem(test::p256_key()), "e1");
  REQUIRE(ec.ok());
  CHECK(ec->keys()[0].alg() == algorithm::es256);
  CHECK(ec->keys()[0].description() == "ES256 (P-256) kid \"e1\"");

  // Text around the block, as in a file with a comment, is fine.
  CHECK(key_set::public_key_pem("issuer key, rotated 2024\n" + test::public_pem(test::p256_key())).ok());
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("PEM keys sigkit cannot pin are refused with a hint", "[auth][keys]") {
  auto error_for = [](std::string_view pem) {
    auto r = key_set::public_key_pem(pem);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK_THAT(error_for(test::public_pem(test::generate("RSA", "1024").get())),
             Contains("1024 bits") && Contains("2048"));
  CHECK_THAT(error_for(test::public_pem(test::generate("EC", "P-384").get())),
             Contains("secp384r1") && Contains("P-256"));
  CHECK_THAT(error_for(test::public_pem(test::generate("ED25519", nullptr).get())), Contains("ED25519"));
  CHECK_THAT(error_for(test::private_pem(test::rsa_key())), Contains("private key") && Contains("-pubout"));
  CHECK_THAT(error_for(test::private_pem(test::rsa_key())), !Contains("MII"));
  CHECK_THAT(error_for("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"), Contains("x509 -in"));
  CHECK_THAT(error_for(""), Contains("no PEM block"));
  CHECK_THAT(error_for("not a key"), Contains("no PEM block"));
  CHECK_THAT(error_for(test::public_pem(test::rsa_key()) + test::public_pem(test::p256_key())),
             Contains("more than one"));
  CHECK_THAT(error_for("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), Contains("not a readable"));
  auto pem = test::public_pem(test::rsa_key());
  pem.erase(pem.size() / 2, 8);  // a damaged body
  CHECK_THAT(error_for(pem), Contains("not a readable"));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a JWK Set pins each key by its kty and keeps its kid", "[auth][keys]") {
  const std::string secret(40, 'h');
  const auto set = key_set::jwks(set_of({test::public_jwk(test::rsa_key(), "r1", "RS256"),
                                         test::public_jwk(test::p256_key(), "e1"), test::secret_jwk(secret, "h1")}));
  REQUIRE(set.ok());
  REQUIRE(set->keys().size() == 3);
  CHECK(set->keys()[0].alg() == algorithm::rs256);
  CHECK(set->keys()[0].kid() == "r1");
  CHECK(set->keys()[1].alg() == algorithm::es256);
  CHECK(set->keys()[1].kid() == "e1");
  CHECK(set->keys()[2].alg() == algorithm::hs256);
  CHECK(set->keys()[2].kid() == "h1");
  CHECK(set->skipped().empty());

  // A single JWK, not wrapped in a set, is one key.
  const auto single = key_set::jwks(test::public_jwk(test::p256_key()));
  REQUIRE(single.ok());
  CHECK(single->keys().size() == 1);
}

TEST_CASE("JWKs for other uses and algorithms are skipped, and say why", "[auth][keys]") {
  const auto rsa = test::public_jwk(test::rsa_key());
  const auto set = key_set::jwks(set_of({
      with(rsa, "use", "enc"),
      with(with(rsa, "kid", "r384"), "alg", "RS384"),
      with(rsa, "alg", "PS256"),
      with(rsa, "alg", "RSA-OAEP"),
      with(rsa, "key_ops", nlohmann::json::array({"encrypt"})),
      ec_jwk("AAAA", "AAAA", "P-384"),
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})",
      with(with(rsa, "key_ops", nlohmann::json::array({"verify"})), "kid", "kept"),
  }));
  REQUIRE(set.ok());
  REQUIRE(set->keys().size() == 1);
  CHECK(set->keys()[0].kid() == "kept");
  REQUIRE(set->skipped().size() == 7);
  CHECK_THAT(set->skipped()[0], Contains("key 1") && Contains("\"use\":\"enc\""));
  CHECK_THAT(set->skipped()[1], Contains("key 2 kid \"r384\"") && Contains("RS384"));
  CHECK_THAT(set->skipped()[5], Contains("P-384"));
  CHECK_THAT(set->skipped()[6], Contains("OKP"));

  // Nothing left to verify with: refused, with the first reason.
  const auto none = key_set::jwks(set_of({with(rsa, "use", "enc")}));
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(none.error(), Contains("no key") && Contains("enc"));
}

TEST_CASE("inconsistent or unusable JWKs refuse the whole set", "[auth][keys]") {
  auto error_for = [](std::string_view json) {
    auto r = key_set::jwks(json);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  const auto rsa = test::public_jwk(test::rsa_key());
  const auto ec = ec_jwk(a3_x, a3_y);
  CHECK_THAT(error_for(set_of({with(rsa, "alg", "ES256")})), Contains("does not fit"));
  CHECK_THAT(error_for(set_of({with(ec, "alg", "HS256")})), Contains("does not fit"));
  CHECK_THAT(error_for(set_of({with(ec, "alg", "none")})), Contains("does not fit"));
  CHECK_THAT(error_for(set_of({with(ec_jwk(a3_x, a3_y, "P-384"), "alg", "ES256")})), Contains("P-256"));

  const std::string short_k = "sixteen byte key";
  const auto short_error = error_for(set_of({test::secret_jwk(short_k, "h")}));
  CHECK_THAT(short_error, Contains("16 bytes") && Contains("at least 32"));
  CHECK_THAT(short_error, !Contains(base64url_encode(short_k)));

  CHECK_THAT(error_for(ec_jwk(a3_x.substr(0, 42), a3_y)), Contains("base64url"));  // cut short: stray low bits
  CHECK_THAT(error_for(ec_jwk(base64url_encode(std::string(31, 'x')), a3_y)), Contains("32 bytes"));
  // y changed in its last character: no longer a point on the curve.
  std::string off_curve(a3_y);
  off_curve.back() = '4';
  CHECK_THAT(error_for(ec_jwk(a3_x, off_curve)), Contains("P-256"));
  CHECK_THAT(error_for(with(rsa, "n", base64url_encode(std::string(128, '\xff')))), Contains("1024 bits"));
  CHECK_THAT(error_for(with(rsa, "e", "AQAA")), Contains("even"));
  CHECK_THAT(error_for(with(rsa, "e", "AQAB==")), Contains("base64url"));
  CHECK_THAT(error_for(with(rsa, "n", 7)), Contains("\"n\" is not a string"));
  CHECK_THAT(error_for(R"({"kty":"RSA","e":"AQAB"})"), Contains("no \"n\""));
  CHECK_THAT(error_for(with(rsa, "kid", 1)), Contains("kid"));
  CHECK_THAT(error_for(with(rsa, "use", 1)), Contains("use"));
  CHECK_THAT(error_for(set_of({with(rsa, "kid", "same"), with(ec, "kid", "same")})), Contains("share kid \"same\""));
  CHECK_THAT(error_for(R"({"keys":[]})"), Contains("no keys"));
  CHECK_THAT(error_for(R"({"keys":{}})"), Contains("not an array"));
  CHECK_THAT(error_for(R"({"keys":[1]})"), Contains("key 1") && Contains("not a JSON object"));
  CHECK_THAT(error_for(R"({"keys":[{"n":"AQAB"}]})"), Contains("kty"));
  CHECK_THAT(error_for("[]"), Contains("not a JWK Set"));
  CHECK_THAT(error_for("{}"), Contains("not a JWK Set"));
  CHECK_THAT(error_for("{\"keys\":"), Contains("not valid JSON"));
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("key sets merge unless a kid would name two keys", "[auth][keys]") {
  auto a = key_set::hs256_secret(std::string(32, 'a'));
  auto b = key_set::jwks(
      set_of({test::public_jwk(test::rsa_key(), "r1"), with(test::public_jwk(test::rsa_key()), "use", "enc")}));
  REQUIRE((a.ok() && b.ok()));
  auto merged = key_set::merge(std::move(*a), std::move(*b));
  REQUIRE(merged.ok());
  CHECK(merged->keys().size() == 2);
  CHECK(merged->skipped().size() == 1);

  auto c = key_set::public_key_pem(test::public_pem(test::p256_key()), "r1");
  REQUIRE(c.ok());
  const auto clash = key_set::merge(std::move(*merged), std::move(*c));
  REQUIRE_FALSE(clash.ok());
  CHECK_THAT(clash.error(), Contains("share kid \"r1\""));

  // Keys without a kid never clash.
  auto d = key_set::hs256_secret(std::string(32, 'd'));
  auto e = key_set::hs256_secret(std::string(32, 'e'));
  REQUIRE((d.ok() && e.ok()));
  CHECK(key_set::merge(std::move(*d), std::move(*e)).ok());
  CHECK(key_set{}.empty());
}
