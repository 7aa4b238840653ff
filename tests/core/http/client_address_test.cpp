#include "sigkit/http/client_address.hpp"

#include <catch2/catch.hpp>

using namespace sigkit::http;

namespace {
ip_address ip(const char* text) {
  auto a = ip_address::parse(text);
  REQUIRE(a);
  return *a;
}
std::vector<cidr> blocks(std::initializer_list<const char*> texts) {
  std::vector<cidr> out;
  for (auto t : texts) out.push_back(*cidr::parse(t));
  return out;
}
}  // namespace

TEST_CASE("addresses parse in both families and compare across them", "[http]") {
  CHECK(ip("192.0.2.1").is_v4());
  CHECK(ip("192.0.2.1") == ip("::ffff:192.0.2.1"));
  CHECK(ip("[2001:db8::1]") == ip("2001:db8::1"));
  CHECK(ip("2001:db8::1").to_string() == "2001:db8::1");
  CHECK(ip(" 10.1.2.3 ").to_string() == "10.1.2.3");
  for (auto bad : {"", "1.2.3", "300.1.1.1", "::g", "localhost", "1.2.3.4:80"}) {
    INFO(bad);
    CHECK_FALSE(ip_address::parse(bad));
  }
}

TEST_CASE("CIDR blocks contain what they should", "[http]") {
  auto ten = *cidr::parse("10.0.0.0/8");
  CHECK(ten.contains(ip("10.255.0.1")));
  CHECK_FALSE(ten.contains(ip("11.0.0.1")));
  auto odd = *cidr::parse("192.168.5.130/25");  // bits past the prefix are ignored
  CHECK(odd.contains(ip("192.168.5.200")));
  CHECK_FALSE(odd.contains(ip("192.168.5.127")));
  auto six = *cidr::parse("2001:db8::/32");
  CHECK(six.contains(ip("2001:db8:ffff::1")));
  CHECK_FALSE(six.contains(ip("2001:db9::1")));
  CHECK(cidr::parse("127.0.0.1")->contains(ip("127.0.0.1")));
  CHECK_FALSE(cidr::parse("127.0.0.1")->contains(ip("127.0.0.2")));
  CHECK(cidr::parse("0.0.0.0/0")->contains(ip("203.0.113.9")));
  CHECK_FALSE(cidr::parse("0.0.0.0/0")->contains(ip("2001:db8::1")));  // an IPv4 block holds no IPv6
  for (auto bad : {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "2001:db8::/129", "nope/8"}) {
    INFO(bad);
    CHECK_FALSE(cidr::parse(bad));
  }
}

TEST_CASE("X-Forwarded-For counts only behind a trusted proxy, read from the right", "[http]") {
  auto proxies = blocks({"10.0.0.0/8"});
  // A direct client's header is ignored: anyone can send one.
  CHECK(client_address(ip("203.0.113.5"), "198.51.100.1", proxies) == ip("203.0.113.5"));
  // Behind our proxy: the address the proxy saw.
  CHECK(client_address(ip("10.0.0.2"), "198.51.100.1", proxies) == ip("198.51.100.1"));
  // The client put a fake address first; only the rightmost untrusted hop counts.
  CHECK(client_address(ip("10.0.0.2"), "1.2.3.4, 198.51.100.1", proxies) == ip("198.51.100.1"));
  // Two proxies of ours in a row.
  CHECK(client_address(ip("10.0.0.2"), "198.51.100.1, 10.0.0.9", proxies) == ip("198.51.100.1"));
  // No header, or garbage: the proxy's own address.
  CHECK(client_address(ip("10.0.0.2"), "", proxies) == ip("10.0.0.2"));
  CHECK(client_address(ip("10.0.0.2"), "198.51.100.1, not-an-ip", proxies) == ip("10.0.0.2"));
  CHECK(client_address(ip("10.0.0.2"), "[2001:db8::7]", proxies) == ip("2001:db8::7"));
  // No proxies trusted: the header never counts.
  CHECK(client_address(ip("10.0.0.2"), "198.51.100.1", {}) == ip("10.0.0.2"));
}
