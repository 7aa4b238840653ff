// Address text, endpoints and scope classification.
#include "sigkit/stun/address.hpp"

#include <catch2/catch.hpp>

using namespace sigkit::stun;

TEST_CASE("addresses print as a user would type them", "[stun][address]") {
  CHECK(address::ipv4({192, 0, 2, 1}, 32853).to_string() == "192.0.2.1:32853");
  CHECK(address::from_string("2001:db8::1", 80).value().to_string() == "[2001:db8::1]:80");
  // RFC 5952: lower case, longest zero run compressed, no leading zeros.
  CHECK(address::from_string("2001:0DB8:0000:0000:0001:0000:0000:0001", 1).value().ip_string() == "2001:db8::1:0:0:1");
  CHECK(address::from_string("::", 0).value().ip_string() == "::");
  CHECK(address::from_string("::ffff:192.0.2.9", 9).value().ip_string() == "::ffff:192.0.2.9");

  CHECK_FALSE(address::from_string("", 1).ok());
  CHECK_FALSE(address::from_string("192.0.2", 1).ok());
  CHECK_FALSE(address::from_string("192.0.2.256", 1).ok());
  CHECK_FALSE(address::from_string("example.org", 1).ok());
  CHECK_FALSE(address::from_string(" 192.0.2.1", 1).ok());
  CHECK(address::from_string("fe80::1%eth0", 1).error() == "zone ids are not supported: fe80::1%eth0");
  CHECK_FALSE(address::from_string(std::string(10000, '1'), 1).ok());
}

TEST_CASE("endpoints parse with brackets for IPv6", "[stun][address]") {
  CHECK(parse_endpoint("192.0.2.1:3478").value() == address::ipv4({192, 0, 2, 1}, 3478));
  CHECK(parse_endpoint("[2001:db8::1]:65535").value().to_string() == "[2001:db8::1]:65535");
  CHECK(parse_endpoint("0.0.0.0:0").ok());

  for (const char* bad : {"192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1", "192.0.2.1:80x",
                          "2001:db8::1:80", "[2001:db8::1]", "[2001:db8::1]80", "[192.0.2.1:80", "[]:80",
                          "host.example:80", ""}) {
    INFO(bad);
    CHECK_FALSE(parse_endpoint(bad).ok());
  }
  CHECK(parse_endpoint("2001:db8::1:80").error() == "IPv6 endpoints need brackets: [2001:db8::1]:port");
}

TEST_CASE("scope classification knows the special ranges", "[stun][address]") {
  struct row {
    const char* ip;
    address_scope scope;
  };
  const row rows[] = {
      {"8.8.8.8", address_scope::global},
      {"0.0.0.0", address_scope::unspecified},
      {"127.0.0.1", address_scope::loopback},
      {"127.255.255.254", address_scope::loopback},
      {"10.1.2.3", address_scope::private_use},
      {"172.15.255.255", address_scope::global},
      {"172.16.0.1", address_scope::private_use},
      {"172.31.255.255", address_scope::private_use},
      {"172.32.0.0", address_scope::global},
      {"192.168.1.1", address_scope::private_use},
      {"100.63.255.255", address_scope::global},
      {"100.64.0.1", address_scope::shared_cgnat},
      {"100.127.255.255", address_scope::shared_cgnat},
      {"100.128.0.0", address_scope::global},
      {"169.254.10.10", address_scope::link_local},
      {"192.0.2.1", address_scope::documentation},
      {"198.51.100.7", address_scope::documentation},
      {"203.0.113.200", address_scope::documentation},
      {"224.0.0.251", address_scope::multicast},
      {"240.0.0.1", address_scope::reserved},
      {"255.255.255.255", address_scope::reserved},
      {"::", address_scope::unspecified},
      {"::1", address_scope::loopback},
      {"fc00::1", address_scope::private_use},
      {"fd12:3456::1", address_scope::private_use},
      {"fe80::1", address_scope::link_local},
      {"febf::1", address_scope::link_local},
      {"fec0::1", address_scope::global},
      {"ff02::1", address_scope::multicast},
      {"2001:db8::1", address_scope::documentation},
      {"2606:4700::1111", address_scope::global},
      {"::ffff:10.0.0.1", address_scope::private_use},
      {"::ffff:127.0.0.1", address_scope::loopback},
  };
  for (const auto& r : rows) {
    INFO(r.ip);
    CHECK(scope_of(address::from_string(r.ip, 0).value()) == r.scope);
  }
  CHECK(is_private(address::ipv4({100, 64, 0, 1}, 0)));
  CHECK(is_private(address::ipv4({192, 168, 0, 1}, 0)));
  CHECK_FALSE(is_private(address::ipv4({8, 8, 8, 8}, 0)));
  CHECK(is_loopback(address::from_string("::1", 0).value()));
  CHECK(is_link_local(address::ipv4({169, 254, 0, 1}, 0)));
  CHECK(is_global(address::ipv4({1, 1, 1, 1}, 0)));
  CHECK(to_string(address_scope::shared_cgnat) == "shared (CGNAT)");
}
