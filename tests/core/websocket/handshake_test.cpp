#include "sigkit/websocket/handshake.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace sigkit::websocket;

TEST_CASE("RFC 6455 1.3: the accept key of the sample nonce", "[websocket]") {
  CHECK(accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("accept_key of another client key", "[websocket]") {
  // Computed independently: base64(sha1("x3JJHMbDL1EzLkh9GBhXDw==" GUID)).
  CHECK(accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST_CASE("accept_key refuses a key that is not the base64 of 16 bytes", "[websocket]") {
  for (std::string_view key : {
           "",
           "dGhlIHNhbXBsZSBub25jZQ=",     // 23 characters
           "dGhlIHNhbXBsZSBub25jZQ===",   // 25
           "dGhlIHNhbXBsZSBub25jZQ",      // unpadded
           "dGhlIHNhbXBsZSBub25jZQAA",    // 24 characters but 18 bytes
           "dGhlIHNhbXBsZSBub25jZQA=",    // 17 bytes
           "dGhlIHNhbXBsZSBub25j!Q==",    // not a base64 digit
           "dGhlIHNhbXBsZSBub2=jZQ==",    // padding inside
           "dGhlIHNhbXBsZSBub25jZR==",    // last digit with non-zero pad bits
           " dGhlIHNhbXBsZSBub25jZQ==",   // whitespace is the HTTP parser's to strip
           "dGhlIHNhbXBsZSBub25jZQ==\r",
           "dGhlIHNhbXBsZSBub25jZQ-_",    // base64url
       }) {
    INFO(key);
    CHECK_FALSE(accept_key(key).has_value());
  }
}

TEST_CASE("make_client_key gives fresh 16-byte keys that a server accepts", "[websocket]") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const auto key = make_client_key();
    CHECK(key.size() == 24);
    CHECK(accept_key(key).has_value());
    seen.insert(key);
  }
  CHECK(seen.size() == 50);
}

TEST_CASE("has_token finds a token in a comma-separated header value", "[websocket]") {
  CHECK(has_token("Upgrade", "upgrade"));
  CHECK(has_token("keep-alive, Upgrade", "upgrade"));
  CHECK(has_token("keep-alive,Upgrade", "Upgrade"));
  CHECK(has_token("UPGRADE , keep-alive", "upgrade"));
  CHECK(has_token("\tupgrade\t", "upgrade"));
  CHECK(has_token(",, upgrade ,", "upgrade"));
  CHECK(has_token("websocket", "WebSocket"));
  CHECK(has_token("13", "13"));
}

TEST_CASE("has_token does not match a part of a token or an empty one", "[websocket]") {
  CHECK_FALSE(has_token("", "upgrade"));
  CHECK_FALSE(has_token("keep-alive", "upgrade"));
  CHECK_FALSE(has_token("upgrades", "upgrade"));
  CHECK_FALSE(has_token("grade", "upgrade"));
  CHECK_FALSE(has_token("keep-alive upgrade", "upgrade"));
  CHECK_FALSE(has_token("up grade", "upgrade"));
  CHECK_FALSE(has_token("upgrade", ""));
  CHECK_FALSE(has_token(", ,", ""));
  CHECK_FALSE(has_token("8, 13", "1"));
}
