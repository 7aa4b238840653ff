// Token auth as clients meet it: a JWT on the upgrade (?token= or Bearer),
// refusals with 401 and a reason, rooms limited by the token, users shown to
// the room, expiry told and closed, refresh, and tokens kept out of the logs.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/auth/token_signer.hpp"
#include "sigkit/client/client.hpp"
#include "support/expectations.hpp"
#include "support/raw_socket.hpp"
#include "support/server_figures.hpp"
#include "support/sigserve_process.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::message_kind;
using sigkit::test::expect;
using sigkit::test::metric;
using sigkit::test::metrics_text;
using sigkit::test::sigserve_process;
namespace signer = sigkit::auth::test;

namespace {

const std::string secret = "0123456789abcdef0123456789abcdef-test";

std::int64_t now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string token(const json& claims, const std::string& key = secret) {
  return signer::hs256_token(R"({"alg":"HS256","typ":"JWT"})", claims.dump(), key);
}

std::string user_token(const std::string& sub, std::int64_t ttl = 3600, json extra = json::object()) {
  extra["sub"] = sub;
  extra["exp"] = now() + ttl;
  return token(extra);
}

std::error_code connect_with(blocking_connection& c, const sigserve_process& s, const std::string& t) {
  return c.connect(s.ws_url() + "?token=" + t);
}

// The HTTP head and body of an upgrade refused before any WebSocket traffic.
std::string refused_upgrade(const sigserve_process& s, const std::string& target_or_header, bool header = false) {
  sigkit::test::raw_socket raw(s.port());
  std::string request = "GET " + std::string(header ? "/ws" : "/ws?token=" + target_or_header) +
                        " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
                        (header ? target_or_header : std::string()) + "\r\n";
  raw.write(request);
  return raw.read_until("\n\xff", 3s);  // until the server closes
}

}  // namespace

TEST_CASE("an upgrade without a valid token gets 401 with the reason, a valid one a welcome with the user", "[sigserve][auth]") {
  sigserve_process s({"--auth-hs256-secret", secret});
  auto missing = refused_upgrade(s, "");
  CHECK(sigkit::test::http_status(missing) == 401);
  CHECK(missing.find("token refused: missing") != std::string::npos);
  CHECK(missing.find("WWW-Authenticate: Bearer") != std::string::npos);
  CHECK(refused_upgrade(s, token({{"sub", "x"}, {"exp", now() + 60}}, "another-secret-another-secret-!!")).find("bad_signature") !=
        std::string::npos);
  CHECK(refused_upgrade(s, user_token("x", -10)).find("expired") != std::string::npos);
  CHECK(refused_upgrade(s, token({{"exp", now() + 60}})).find("missing_subject") != std::string::npos);
  auto none = signer::compact(signer::signing_input(R"({"alg":"none"})", json{{"sub", "x"}, {"exp", now() + 60}}.dump()), "");
  CHECK(refused_upgrade(s, none).find("unsupported_algorithm") != std::string::npos);

  blocking_connection alice;
  REQUIRE_FALSE(connect_with(alice, s, user_token("alice")));
  // The welcome said who we are (the client keeps it in server_message terms).
  auto bearer = refused_upgrade(s, "Authorization: Bearer " + user_token("bob") + "\r\n", true);
  CHECK(sigkit::test::http_status(bearer) == 101);
  CHECK(bearer.find(R"("user":"bob")") != std::string::npos);
  CHECK(bearer.find(R"("features":["auth"])") != std::string::npos);

  auto text = metrics_text(s.port());
  CHECK(metric(text, R"(sigserve_auth_failures_total{reason="missing"})") == 1);
  CHECK(metric(text, R"(sigserve_auth_failures_total{reason="bad_signature"})") == 1);
  CHECK(metric(text, R"(sigserve_auth_failures_total{reason="expired"})") == 1);
  CHECK(metric(text, R"(sigserve_upgrades_refused_total{reason="auth"})") == 5);
  // Tokens never reach the logs.
  CHECK(s.log().find(user_token("alice").substr(0, 40)) == std::string::npos);
  CHECK(s.log().find("eyJ") == std::string::npos);
}

TEST_CASE("the token's rooms claim limits joins, and the room sees who is who", "[sigserve][auth]") {
  sigserve_process s({"--auth-hs256-secret", secret});
  blocking_connection alice, bob;
  REQUIRE_FALSE(connect_with(alice, s, user_token("alice", 3600, {{"rooms", {"team-*", "lobby"}}})));
  REQUIRE_FALSE(connect_with(bob, s, user_token("bob")));
  auto refused = alice.join("other");
  REQUIRE(refused.ok());
  CHECK(refused->code == "forbidden");
  REQUIRE(alice.join("team-red")->kind == message_kind::joined);
  auto joined = bob.join("team-red");
  REQUIRE(joined->kind == message_kind::joined);
  CHECK(joined->body["users"] == json{{alice.peer(), "alice"}});
  auto notice = expect(alice, message_kind::peer_joined);
  CHECK(notice.body["user"] == "bob");
}

TEST_CASE("an expiring token is told token-expired and closed with 1008, unless refreshed for the same user", "[sigserve][auth]") {
  sigserve_process s({"--auth-hs256-secret", secret});
  blocking_connection short_lived, refreshed;
  REQUIRE_FALSE(connect_with(short_lived, s, user_token("carol", 2)));
  REQUIRE_FALSE(connect_with(refreshed, s, user_token("dave", 2)));

  // A refresh for another user, or a broken one, is forbidden and changes nothing.
  refreshed.send(json{{"type", "refresh"}, {"token", user_token("mallory")}, {"rid", 1}});
  auto other = expect(refreshed, message_kind::error);
  CHECK(other.code == "forbidden");
  CHECK(other.body["rid"] == 1);
  refreshed.send(json{{"type", "refresh"}, {"token", "not.a.token"}});
  CHECK(expect(refreshed, message_kind::error).code == "forbidden");
  // The right one is answered with its expiry.
  auto later = now() + 3600;
  refreshed.send(json{{"type", "refresh"}, {"token", token({{"sub", "dave"}, {"exp", later}})}, {"rid", 2}});
  auto ok = expect(refreshed, message_kind::other);
  CHECK(ok.type == "refreshed");
  CHECK(ok.body["exp"] == later);
  CHECK(ok.body["rid"] == 2);

  auto expired = short_lived.receive(5s);
  REQUIRE(expired.ok());
  CHECK(expired->code == "token-expired");
  REQUIRE_FALSE(short_lived.receive(3s).ok());
  CHECK(short_lived.close_code() == 1008);

  refreshed.send_text(R"({"type":"ping"})");  // past the first token's expiry, still here
  expect(refreshed, message_kind::pong);
  CHECK(metric(metrics_text(s.port()), R"(sigserve_closes_total{reason="token_expired"})") == 1);
}

TEST_CASE("RS256 public keys and JWKS with kids verify; a key of another kind is refused at start", "[sigserve][auth]") {
  char dir_template[] = "/tmp/sigserve-auth-XXXXXX";
  std::string dir = mkdtemp(dir_template);
  std::ofstream(dir + "/rsa.pem") << signer::public_pem(signer::rsa_key());
  std::ofstream(dir + "/keys.jwks") << json{{"keys", {json::parse(signer::public_jwk(signer::p256_key(), "ec-1"))}}}.dump();
  sigserve_process s({"--auth-public-key", dir + "/rsa.pem", "--auth-jwks", dir + "/keys.jwks", "--auth-audience", "calls"});
  json claims{{"sub", "erin"}, {"exp", now() + 60}, {"aud", {"calls", "chat"}}};
  blocking_connection rs, es;
  CHECK_FALSE(connect_with(rs, s, signer::rs256_token(R"({"alg":"RS256"})", claims.dump(), signer::rsa_key())));
  CHECK_FALSE(connect_with(es, s, signer::es256_token(R"({"alg":"ES256","kid":"ec-1"})", claims.dump(), signer::p256_key())));
  // The classic confusion: HS256 "signed" with the RSA public key as secret.
  auto confused = signer::hs256_token(R"({"alg":"HS256"})", claims.dump(), signer::public_pem(signer::rsa_key()));
  CHECK(refused_upgrade(s, confused).find(" 401 ") != std::string::npos);
  claims["aud"] = "elsewhere";
  CHECK(refused_upgrade(s, signer::rs256_token(R"({"alg":"RS256"})", claims.dump(), signer::rsa_key()))
            .find("wrong_audience") != std::string::npos);

  std::ofstream(dir + "/private.pem") << signer::private_pem(signer::rsa_key());
  auto bad = sigkit::test::run_command({sigkit::test::sigserve_path(), "--port", "0", "--auth-public-key", dir + "/private.pem"});
  CHECK(bad.status == 1);
  CHECK(bad.err.rfind("sigserve: ", 0) == 0);
  std::filesystem::remove_all(dir);
}
