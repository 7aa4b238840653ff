// SASLprep, credential keys and TURN REST credentials.
#include "sigkit/stun/credentials.hpp"

#include <catch2/catch.hpp>

#include "hex.hpp"

using namespace sigkit::stun;
using sigkit::stun::test::bytes_of;
using sigkit::stun::test::hex;

TEST_CASE("SASLprep follows RFC 4013 §3's examples", "[stun][credentials]") {
  CHECK(saslprep("I\xc2\xadX").value() == "IX");    // SOFT HYPHEN mapped to nothing
  CHECK(saslprep("user").value() == "user");       // no transformation
  CHECK(saslprep("USER").value() == "USER");       // case preserved
  CHECK(saslprep("\xc2\xaa").value() == "a");      // NFKC
  CHECK(saslprep("\xe2\x85\xa8").value() == "IX");  // NFKC
  CHECK(saslprep("\x07").error().code_ == credential_errc::prohibited_character);
  CHECK(saslprep("\xd8\xa7" "1").error().code_ == credential_errc::bidi_violation);  // U+0627 then '1'
  CHECK(saslprep("a\xc2\xa0" "b").value() == "a b");  // non-ASCII space mapped to SPACE
  CHECK(saslprep("").value().empty());
  CHECK(saslprep("\xff").error().code_ == credential_errc::invalid_utf8);
  CHECK(saslprep("\xc0\xaf").error().code_ == credential_errc::invalid_utf8);      // overlong '/'
  CHECK(saslprep("\xed\xa0\x80").error().code_ == credential_errc::invalid_utf8);  // surrogate
  CHECK(saslprep("\xe2\x85").error().code_ == credential_errc::invalid_utf8);      // truncated
  CHECK(saslprep(std::string_view("a\0b", 3)).error().code_ == credential_errc::prohibited_character);
}

TEST_CASE("long-term and short-term keys", "[stun][credentials]") {
  // MD5("user:realm:pass") from `printf '%s' user:realm:pass | openssl dgst -md5`.
  CHECK(long_term_key("user", "realm", "pass").value() == hex("8493fbc53ba582fb4c044c456bdc40eb"));
  CHECK(short_term_key("VOkJxbRl1RmTxUk/WvJxBt").value() == bytes_of("VOkJxbRl1RmTxUk/WvJxBt"));
  // Preparation only changes non-ASCII passwords.
  CHECK(long_term_key("u", "r", "I\xc2\xadX").value() == long_term_key("u", "r", "IX").value());
  CHECK(long_term_key("u", "r", "I\xc2\xadX", password_preparation::none).value() !=
        long_term_key("u", "r", "IX").value());
  CHECK(long_term_key("u", "r", "bad\x07").error().code_ == credential_errc::prohibited_character);
  CHECK(short_term_key("\x07", password_preparation::none).value() == bytes_of("\x07"));
}

TEST_CASE("TURN REST credentials match coturn's use-auth-secret", "[stun][credentials]") {
  // Expected passwords computed independently:
  //   printf '%s' '1700003600:alice' | openssl dgst -sha1 -hmac 's3cr3t-shared' -binary | base64
  //   printf '%s' '1700000600'       | openssl dgst -sha1 -hmac 's3cr3t-shared' -binary | base64
  const auto c = make_turn_rest_credentials("s3cr3t-shared", "alice", 1'700'000'000, 3600);
  CHECK(c.username_ == "1700003600:alice");
  CHECK(c.password_ == "iLiwY1eZFZWG02u3lUgVz9kJLgU=");
  CHECK(c.expires_at_ == 1'700'003'600);

  const auto anonymous = make_turn_rest_credentials("s3cr3t-shared", "", 1'700'000'000, 600);
  CHECK(anonymous.username_ == "1700000600");
  CHECK(anonymous.password_ == "4MCbn+5aGhqnjJmIVEQ2vxQ87/Q=");

  CHECK(make_turn_rest_credentials("s", "bob", 10, 5, '-').username_ == "15-bob");

  const auto parsed = parse_turn_rest_username("1700003600:alice");
  REQUIRE(parsed.has_value());
  CHECK(parsed->expires_at_ == 1'700'003'600);
  CHECK(parsed->user_ == "alice");
  CHECK(parse_turn_rest_username("1700000600")->user_.empty());
  CHECK(parse_turn_rest_username("1700000600:a:b")->user_ == "a:b");
  CHECK_FALSE(parse_turn_rest_username("alice:1700000600").has_value());
  CHECK_FALSE(parse_turn_rest_username("").has_value());
  CHECK_FALSE(parse_turn_rest_username(":alice").has_value());
  CHECK_FALSE(parse_turn_rest_username("-5:alice").has_value());

  CHECK(expiry_looks_like_milliseconds(1'700'003'600'000));
  CHECK_FALSE(expiry_looks_like_milliseconds(1'700'003'600));
}

TEST_CASE("base64 follows RFC 4648 §10", "[stun][credentials]") {
  CHECK(base64_encode(bytes_of("")).empty());
  CHECK(base64_encode(bytes_of("f")) == "Zg==");
  CHECK(base64_encode(bytes_of("fo")) == "Zm8=");
  CHECK(base64_encode(bytes_of("foo")) == "Zm9v");
  CHECK(base64_encode(bytes_of("foob")) == "Zm9vYg==");
  CHECK(base64_encode(bytes_of("fooba")) == "Zm9vYmE=");
  CHECK(base64_encode(bytes_of("foobar")) == "Zm9vYmFy");
}
