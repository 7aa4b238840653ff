// The claim rules, key choice and room patterns, on tokens signed here with
// keys generated for the run.
#include "sigkit/auth/jwt.hpp"

#include <catch2/catch.hpp>

#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "token_signer.hpp"

using namespace sigkit::auth;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr std::int64_t now = 1'700'000'000;
const std::string secret = "sigkit test secret, at least thirty-two bytes";

json good_claims() { return {{"sub", "alice"}, {"exp", now + 600}, {"iat", now - 10}}; }

const key_set& hs_keys() {
  static const key_set k = key_set::hs256_secret(secret).value();
  return k;
}

std::string hs(const json& claims, const json& header = {{"alg", "HS256"}, {"typ", "JWT"}}) {
  return test::hs256_token(header.dump(), claims.dump(), secret);
}

json with(json j, const char* name, json value) {
  j[name] = std::move(value);
  return j;
}
json without(json j, const char* name) {
  j.erase(name);
  return j;
}

// The error verify() gives; fails the test if the token verified.
token_error refusal(std::string_view token, const key_set& keys = hs_keys(), const verify_options& o = {},
                    std::int64_t at = now) {
  const auto r = verify(token, keys, o, at);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

claims accepted(std::string_view token, const key_set& keys = hs_keys(), const verify_options& o = {},
                std::int64_t at = now) {
  auto r = verify(token, keys, o, at);
  if (!r.ok()) FAIL("refused: " << to_string(r.error()));
  return std::move(r).value();
}

}  // namespace

TEST_CASE("a valid token yields its claims with each algorithm", "[auth][jwt]") {
  const json c = {{"sub", "alice"},     {"exp", now + 600},          {"nbf", now - 5},
                  {"iat", now - 10},    {"iss", "https://id.example"}, {"aud", "sigserve"},
                  {"rooms", {"team-*", "lobby"}}, {"extra", {{"nested", true}}}};
  const auto got = accepted(hs(c));
  CHECK(got.sub == "alice");
  CHECK(got.exp == now + 600);
  CHECK(got.nbf == now - 5);
  CHECK(got.iat == now - 10);
  CHECK(got.iss == "https://id.example");
  CHECK(got.aud == std::vector<std::string>{"sigserve"});
  REQUIRE(got.rooms.has_value());
  CHECK(*got.rooms == std::vector<std::string>{"team-*", "lobby"});

  const auto rsa = key_set::public_key_pem(test::public_pem(test::rsa_key())).value();
  const auto rs = accepted(test::rs256_token(R"({"alg":"RS256"})", good_claims().dump(), test::rsa_key()), rsa);
  CHECK(rs.sub == "alice");
  CHECK_FALSE(rs.rooms.has_value());
  CHECK_FALSE(rs.nbf.has_value());
  CHECK(rs.aud.empty());

  const auto ec = key_set::public_key_pem(test::public_pem(test::p256_key())).value();
  for (int i = 0; i < 20; ++i) {  // ECDSA is randomised: R and S vary, some with leading zero bytes
    const auto token = test::es256_token(R"({"alg":"ES256","typ":"JWT"})", good_claims().dump(), test::p256_key());
    CHECK(accepted(token, ec).sub == "alice");
  }
}

TEST_CASE("exp is required, a number, and in the future", "[auth][jwt]") {
  CHECK(refusal(hs(without(good_claims(), "exp"))) == token_error::missing_expiry);
  CHECK(refusal(hs(with(good_claims(), "exp", "1700000600"))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "exp", true))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "exp", nullptr))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "exp", json::array({now + 600})))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "exp", now))) == token_error::expired);  // RFC 7519 §4.1.4: "on or after"
  CHECK(refusal(hs(with(good_claims(), "exp", now - 1))) == token_error::expired);
  CHECK(refusal(hs(with(good_claims(), "exp", -1))) == token_error::expired);
  CHECK(accepted(hs(with(good_claims(), "exp", now + 1))).exp == now + 1);

  // Fractional NumericDates are floored.
  CHECK(refusal(hs(with(good_claims(), "exp", static_cast<double>(now) + 0.5))) == token_error::expired);
  CHECK(accepted(hs(with(good_claims(), "exp", static_cast<double>(now) + 1.5))).exp == now + 1);
  // Far-future values are clamped rather than overflowing.
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  CHECK(accepted(hs(with(good_claims(), "exp", 1e300))).exp == max);
  CHECK(accepted(hs(with(good_claims(), "exp", std::numeric_limits<std::uint64_t>::max()))).exp == max);
  CHECK(refusal(hs(with(good_claims(), "exp", -1e300))) == token_error::expired);
}

TEST_CASE("nbf and iat are numbers and not in the future", "[auth][jwt]") {
  CHECK(refusal(hs(with(good_claims(), "nbf", now + 1))) == token_error::not_yet_valid);
  CHECK(accepted(hs(with(good_claims(), "nbf", now))).nbf == now);
  CHECK(refusal(hs(with(good_claims(), "nbf", "now"))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "iat", now + 1))) == token_error::issued_in_future);
  CHECK(accepted(hs(with(good_claims(), "iat", now))).iat == now);
  CHECK(refusal(hs(with(good_claims(), "iat", nullptr))) == token_error::bad_claims);
  // Expired is reported before a future nbf: the token can never become valid.
  CHECK(refusal(hs(with(with(good_claims(), "nbf", now + 100), "exp", now - 1))) == token_error::expired);
}

TEST_CASE("leeway forgives a little clock skew and no more", "[auth][jwt]") {
  const verify_options ten{.leeway = 10s};
  CHECK(accepted(hs(with(good_claims(), "exp", now - 5)), hs_keys(), ten).exp == now - 5);
  CHECK(accepted(hs(with(good_claims(), "exp", now - 9)), hs_keys(), ten).exp == now - 9);
  CHECK(refusal(hs(with(good_claims(), "exp", now - 10)), hs_keys(), ten) == token_error::expired);
  CHECK(refusal(hs(with(good_claims(), "exp", now - 3600)), hs_keys(), ten) == token_error::expired);
  CHECK(accepted(hs(with(good_claims(), "nbf", now + 10)), hs_keys(), ten).nbf == now + 10);
  CHECK(refusal(hs(with(good_claims(), "nbf", now + 11)), hs_keys(), ten) == token_error::not_yet_valid);
  CHECK(accepted(hs(with(good_claims(), "iat", now + 10)), hs_keys(), ten).iat == now + 10);
  CHECK(refusal(hs(with(good_claims(), "iat", now + 11)), hs_keys(), ten) == token_error::issued_in_future);

  // The default is none (decisions.md), a negative leeway counts as none,
  // and a huge one saturates instead of overflowing.
  CHECK(refusal(hs(with(good_claims(), "exp", now - 1))) == token_error::expired);
  CHECK(refusal(hs(with(good_claims(), "exp", now - 1)), hs_keys(), {.leeway = -100s}) == token_error::expired);
  const verify_options forever{.leeway = std::chrono::seconds::max()};
  CHECK(accepted(hs(with(good_claims(), "exp", -5)), hs_keys(), forever).exp == -5);
  CHECK(accepted(hs(with(good_claims(), "nbf", std::numeric_limits<std::int64_t>::max())), hs_keys(), forever).sub ==
        "alice");
}

TEST_CASE("the issuer is checked when configured", "[auth][jwt]") {
  const verify_options o{.issuer = "https://id.example"};
  CHECK(accepted(hs(with(good_claims(), "iss", "https://id.example")), hs_keys(), o).iss == "https://id.example");
  CHECK(refusal(hs(with(good_claims(), "iss", "https://evil.example")), hs_keys(), o) == token_error::wrong_issuer);
  CHECK(refusal(hs(with(good_claims(), "iss", "HTTPS://ID.EXAMPLE")), hs_keys(), o) == token_error::wrong_issuer);
  CHECK(refusal(hs(good_claims()), hs_keys(), o) == token_error::wrong_issuer);
  CHECK(refusal(hs(with(good_claims(), "iss", 7)), hs_keys(), o) == token_error::bad_claims);
  // Not configured: any string is fine, a wrong type still is not.
  CHECK(accepted(hs(with(good_claims(), "iss", "anyone"))).iss == "anyone");
  CHECK(refusal(hs(with(good_claims(), "iss", json::array({"a"})))) == token_error::bad_claims);
}

TEST_CASE("the audience is checked when configured, as a string or an array", "[auth][jwt]") {
  const verify_options o{.audience = "sigserve"};
  CHECK(accepted(hs(with(good_claims(), "aud", "sigserve")), hs_keys(), o).aud.size() == 1);
  CHECK(refusal(hs(with(good_claims(), "aud", "other")), hs_keys(), o) == token_error::wrong_audience);
  CHECK(accepted(hs(with(good_claims(), "aud", {"web", "sigserve"})), hs_keys(), o).aud ==
        std::vector<std::string>{"web", "sigserve"});
  CHECK(refusal(hs(with(good_claims(), "aud", {"web", "api"})), hs_keys(), o) == token_error::wrong_audience);
  CHECK(refusal(hs(with(good_claims(), "aud", json::array())), hs_keys(), o) == token_error::wrong_audience);
  CHECK(refusal(hs(good_claims()), hs_keys(), o) == token_error::wrong_audience);
  CHECK(refusal(hs(with(good_claims(), "aud", 5)), hs_keys(), o) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "aud", {"sigserve", 5})), hs_keys(), o) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "aud", json::object())), hs_keys(), o) == token_error::bad_claims);
  CHECK(accepted(hs(with(good_claims(), "aud", {"elsewhere"}))).aud == std::vector<std::string>{"elsewhere"});
  // Issuer before audience when both are wrong.
  CHECK(refusal(hs(with(good_claims(), "aud", "other")), hs_keys(), {.issuer = "i", .audience = "sigserve"}) ==
        token_error::wrong_issuer);
}

TEST_CASE("sub is a required non-empty string", "[auth][jwt]") {
  CHECK(refusal(hs(without(good_claims(), "sub"))) == token_error::missing_subject);
  CHECK(refusal(hs(with(good_claims(), "sub", ""))) == token_error::missing_subject);
  CHECK(refusal(hs(with(good_claims(), "sub", 42))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "sub", nullptr))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "sub", {"alice"}))) == token_error::bad_claims);
  CHECK(accepted(hs(with(good_claims(), "sub", "zo\xc3\xab"))).sub == "zo\xc3\xab");
}

TEST_CASE("rooms is an array of strings when present", "[auth][jwt]") {
  CHECK(refusal(hs(with(good_claims(), "rooms", "lobby"))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "rooms", {"lobby", 1}))) == token_error::bad_claims);
  CHECK(refusal(hs(with(good_claims(), "rooms", nullptr))) == token_error::bad_claims);
  const auto none = accepted(hs(with(good_claims(), "rooms", json::array())));
  REQUIRE(none.rooms.has_value());
  CHECK(none.rooms->empty());
  CHECK_FALSE(room_allowed(none, "lobby"));
}

TEST_CASE("the claims are one JSON object with unique names", "[auth][jwt]") {
  const auto signed_payload = [](std::string_view payload) {
    return test::hs256_token(R"({"alg":"HS256"})", payload, secret);
  };
  CHECK(refusal(signed_payload("[]")) == token_error::bad_claims);
  CHECK(refusal(signed_payload("\"alice\"")) == token_error::bad_claims);
  CHECK(refusal(signed_payload("not json")) == token_error::bad_claims);
  CHECK(refusal(signed_payload(R"({"sub":"alice","exp":1800000000} x)")) == token_error::bad_claims);
  CHECK(refusal(signed_payload(R"({"sub":"alice","exp":1800000000,"sub":"mallory"})")) == token_error::bad_claims);
  CHECK(refusal(signed_payload(R"({"sub":"alice","exp":1800000000,"x":[{"a":1,"a":2}]})")) ==
        token_error::bad_claims);
  CHECK(refusal(signed_payload("{\"sub\":\"\xff\",\"exp\":1800000000}")) == token_error::bad_claims);  // not UTF-8
  CHECK(refusal(signed_payload(std::string(R"({"sub":"alice","exp":1800000000})") + '\0')) == token_error::bad_claims);
  CHECK(refusal(signed_payload("\xEF\xBB\xBF{\"sub\":\"alice\",\"exp\":1800000000}")) == token_error::bad_claims);
  CHECK(accepted(signed_payload(R"({"sub":"alice","exp":1800000000,"x":[{"a":1},{"a":2}]})")).sub == "alice");
  // The same object with names spaced and reordered is fine.
  CHECK(accepted(signed_payload("{ \"exp\" : 1800000000 ,\r\n \"sub\" : \"alice\" }")).sub == "alice");
}

TEST_CASE("claims are not read before the signature is verified", "[auth][jwt]") {
  auto token = test::hs256_token(R"({"alg":"HS256"})", "not json", std::string(32, 'x'));
  CHECK(refusal(token) == token_error::bad_signature);
  token = test::hs256_token(R"({"alg":"HS256"})", without(good_claims(), "exp").dump(), std::string(32, 'x'));
  CHECK(refusal(token) == token_error::bad_signature);
}

TEST_CASE("a kid selects its key; a token without one tries its algorithm's keys", "[auth][jwt]") {
  const std::string h1(32, '1');
  const auto jwks = "{\"keys\":[" + test::public_jwk(test::rsa_key(), "r1") + "," +
                    test::public_jwk(test::p256_key(), "e1") + "," + test::secret_jwk(h1, "h1") + "]}";
  const auto keys = key_set::jwks(jwks).value();
  const auto claims = good_claims().dump();

  CHECK(accepted(test::rs256_token(R"({"alg":"RS256","kid":"r1"})", claims, test::rsa_key()), keys).sub == "alice");
  CHECK(accepted(test::rs256_token(R"({"alg":"RS256"})", claims, test::rsa_key()), keys).sub == "alice");
  CHECK(accepted(test::es256_token(R"({"alg":"ES256","kid":"e1"})", claims, test::p256_key()), keys).sub == "alice");
  CHECK(accepted(test::hs256_token(R"({"alg":"HS256","kid":"h1"})", claims, h1), keys).sub == "alice");

  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":"r2"})", claims, test::rsa_key()), keys) ==
        token_error::unknown_key);
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":""})", claims, test::rsa_key()), keys) ==
        token_error::unknown_key);
  // The kid of a key pinned to another algorithm.
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":"e1"})", claims, test::rsa_key()), keys) ==
        token_error::algorithm_mismatch);
  CHECK(refusal(test::hs256_token(R"({"alg":"HS256","kid":"r1"})", claims, h1), keys) ==
        token_error::algorithm_mismatch);
  // Signed by another RSA key, with or without naming r1.
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":"r1"})", claims, test::other_rsa_key()), keys) ==
        token_error::bad_signature);
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256"})", claims, test::other_rsa_key()), keys) ==
        token_error::bad_signature);
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":7})", claims, test::rsa_key()), keys) ==
        token_error::malformed);
  CHECK(refusal(hs(good_claims()), key_set{}) == token_error::unknown_key);
}

TEST_CASE("a key loaded without a kid serves tokens that name any kid", "[auth][jwt]") {
  // --auth-hs256-secret has no kid, but issuers often put one in every token.
  const auto claims = good_claims().dump();
  CHECK(accepted(test::hs256_token(R"({"alg":"HS256","kid":"2024-05"})", claims, secret)).sub == "alice");
  // Merged with a JWKS: a kid the JWKS has goes to its key only; other kids fall back to kid-less keys.
  const auto rsa_jwk = test::public_jwk(test::rsa_key(), "r1");
  const auto rsa = key_set::jwks(rsa_jwk).value();
  const auto both = key_set::merge(key_set::hs256_secret(secret).value(), key_set::jwks(rsa_jwk).value()).value();
  CHECK(accepted(test::hs256_token(R"({"alg":"HS256","kid":"whatever"})", claims, secret), both).sub == "alice");
  CHECK(refusal(test::hs256_token(R"({"alg":"HS256","kid":"r1"})", claims, secret), both) ==
        token_error::algorithm_mismatch);
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":"r2"})", claims, test::rsa_key()), both) ==
        token_error::algorithm_mismatch);
  // Only kid-carrying keys: an unknown kid is unknown.
  CHECK(refusal(test::rs256_token(R"({"alg":"RS256","kid":"r2"})", claims, test::rsa_key()), rsa) ==
        token_error::unknown_key);
}

TEST_CASE("without a kid, at most a few keys are tried", "[auth][jwt]") {
  std::string jwks = "{\"keys\":[";
  for (std::size_t i = 0; i <= max_keys_tried; ++i)
    jwks += (i ? "," : "") + test::secret_jwk(std::string(32, static_cast<char>('a' + i)), "k" + std::to_string(i));
  jwks += "]}";
  const auto keys = key_set::jwks(jwks).value();
  const std::string last(32, static_cast<char>('a' + max_keys_tried));
  const auto claims = good_claims().dump();
  CHECK(refusal(test::hs256_token(R"({"alg":"HS256"})", claims, last), keys) == token_error::unknown_key);
  CHECK(accepted(test::hs256_token(
                     R"({"alg":"HS256","kid":"k)" + std::to_string(max_keys_tried) + "\"}", claims, last),
                 keys)
            .sub == "alice");

  // Up to the limit, every key is tried: the token signed with the last one verifies.
  const auto two = key_set::merge(key_set::public_key_pem(test::public_pem(test::rsa_key())).value(),
                                  key_set::public_key_pem(test::public_pem(test::other_rsa_key())).value())
                       .value();
  CHECK(accepted(test::rs256_token(R"({"alg":"RS256"})", claims, test::other_rsa_key()), two).sub == "alice");
}

TEST_CASE("tokens up to the size limit are read, longer ones are not", "[auth][jwt]") {
  // Start a little short of the limit (base64 makes 3 bytes 4 characters), then grow a byte at a time.
  const auto bare = hs(with(good_claims(), "filler", "")).size();
  std::string filler((max_token_size - bare) * 3 / 4 - 8, 'x');
  std::string token = hs(with(good_claims(), "filler", filler));
  REQUIRE(token.size() < max_token_size);
  while (token.size() < max_token_size) {
    filler.push_back('x');
    token = hs(with(good_claims(), "filler", filler));
  }
  REQUIRE(token.size() == max_token_size);
  CHECK(accepted(token).sub == "alice");
  filler.push_back('x');
  token = hs(with(good_claims(), "filler", filler));
  REQUIRE(token.size() > max_token_size);
  CHECK(refusal(token) == token_error::malformed);
}

TEST_CASE("room patterns: exact names and trailing-star prefixes", "[auth][jwt]") {
  claims c;
  CHECK(room_allowed(c, "anything"));  // no rooms claim: any room
  c.rooms = std::vector<std::string>{"lobby", "team-*"};
  CHECK(room_allowed(c, "lobby"));
  CHECK_FALSE(room_allowed(c, "lobby2"));
  CHECK_FALSE(room_allowed(c, "Lobby"));
  CHECK_FALSE(room_allowed(c, "lobb"));
  CHECK(room_allowed(c, "team-blue"));
  CHECK(room_allowed(c, "team-"));  // decisions.md: the prefix itself matches too
  CHECK_FALSE(room_allowed(c, "team"));
  CHECK_FALSE(room_allowed(c, "my-team-blue"));
  c.rooms = std::vector<std::string>{"*"};
  CHECK(room_allowed(c, "lobby"));
  CHECK(room_allowed(c, ""));
  c.rooms = std::vector<std::string>{"a*b"};  // only a trailing star is a pattern
  CHECK(room_allowed(c, "a*b"));
  CHECK_FALSE(room_allowed(c, "axb"));
  c.rooms = std::vector<std::string>{"a**"};
  CHECK(room_allowed(c, "a*"));
  CHECK(room_allowed(c, "a*z"));
  CHECK_FALSE(room_allowed(c, "az"));
  c.rooms = std::vector<std::string>{};
  CHECK_FALSE(room_allowed(c, "lobby"));
}

TEST_CASE("error labels are stable, distinct metric labels", "[auth][jwt]") {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < token_error_count; ++i) {
    const auto label = to_string(static_cast<token_error>(i));
    CHECK(label != "?");
    CHECK(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos);
    seen.insert(label);
  }
  CHECK(seen.size() == token_error_count);
  CHECK(to_string(token_error::missing) == "missing");
  CHECK(to_string(token_error::expired) == "expired");
  CHECK(to_string(token_error::bad_signature) == "bad_signature");
  CHECK(to_string(token_error::bad_claims) == "bad_claims");
  CHECK(refusal("") == token_error::missing);
}
