// base64url as JWS uses it: unpadded, and canonical.
#include "sigkit/auth/base64url.hpp"

#include <catch2/catch.hpp>

using namespace sigkit::auth;

TEST_CASE("base64url round-trips every length and byte", "[auth][base64url]") {
  // RFC 4648 §10 vectors, in the URL-safe alphabet and without padding.
  CHECK(base64url_encode("") == "");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
  CHECK(base64url_encode("foo") == "Zm9v");
  CHECK(base64url_encode("foobar") == "Zm9vYmFy");
  CHECK(base64url_encode("\xfb\xff") == "-_8");  // the two characters that differ from base64
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); n += 7) {
    const auto text = all.substr(0, n);
    CHECK(base64url_decode(base64url_encode(text)).value() == text);
  }
}

TEST_CASE("base64url refuses padding, other alphabets and non-canonical text", "[auth][base64url]") {
  CHECK(base64url_decode("Zm9vYg").value() == "foob");
  CHECK_FALSE(base64url_decode("Zm9vYg==").has_value());  // padding
  CHECK_FALSE(base64url_decode("Zg=").has_value());
  CHECK_FALSE(base64url_decode("+_8").has_value());  // base64's '+'
  CHECK_FALSE(base64url_decode("-/8").has_value());  // base64's '/'
  CHECK_FALSE(base64url_decode("Zm9v Yg").has_value());
  CHECK_FALSE(base64url_decode("Zm9v\nYg").has_value());
  CHECK_FALSE(base64url_decode("Zm9vY").has_value());  // 4n+1 characters cannot be bytes
  CHECK_FALSE(base64url_decode(std::string_view("Zm\0v", 4)).has_value());
  // "Zg" is "f"; "Zh" would decode to "f" too if the unused bits were ignored.
  CHECK_FALSE(base64url_decode("Zh").has_value());
  CHECK(base64url_decode("Zm8").value() == "fo");
  CHECK_FALSE(base64url_decode("Zm9").has_value());  // "fo" with stray low bits
  CHECK_FALSE(base64url_decode("Zm-").has_value());
  CHECK(base64url_decode("").value().empty());
}
