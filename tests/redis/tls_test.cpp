// sigkit::redis over rediss:// against a real redis-server listening for TLS
// (Debian's is built with it): the server's certificate is checked against
// the CA file and the host, a server that asks for a client certificate gets
// ours, and every refusal says why.
#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "quick_client.hpp"
#include "sigkit/redis/connection.hpp"
#include "sigkit/redis/subscriber.hpp"
#include "sigkit/resp/value.hpp"
#include "support/child_process.hpp"
#include "support/redis_process.hpp"
#include "support/test_certificate.hpp"

using namespace std::chrono_literals;
using sigkit::resp::value;
using sigkit::test::endpoint_of;
using sigkit::test::quick;
using sigkit::test::redis_process;
using sigkit::test::run_until;
using sigkit::test::test_certificate;

namespace {

namespace asio = boost::asio;

// A redis-server that also listens for TLS on a port of its own.
struct tls_redis {
  test_certificate server_cert;
  std::uint16_t tls_port = sigkit::test::free_loopback_port();
  redis_process server;

  // `clients_ca`: the CA file a client's certificate must chain to; empty:
  // the server asks for none.
  explicit tls_redis(const std::string& names = "IP:127.0.0.1", const std::string& clients_ca = "")
      : server_cert(names),
        server(sigkit::test::tls_port_arguments(tls_port, server_cert.cert_path(), server_cert.key_path(),
                                                clients_ca)) {}
  std::string url() const { return "rediss://127.0.0.1:" + std::to_string(tls_port); }
};

sigkit::redis::options trusting(const std::string& ca_file) {
  auto o = quick();
  o.tls.ca_file = ca_file;
  return o;
}

// SET then GET on a new connection, or the connection's last error.
std::string round_trip(asio::io_context& io, const std::string& url, const sigkit::redis::options& o) {
  sigkit::redis::connection redis(io, endpoint_of(url), o);
  redis.start();
  if (!run_until(io, [&] { return redis.connected() || redis.stats().failed_attempts > 0; }, 3s))
    return "neither connected nor failed";
  if (!redis.connected()) return redis.last_error();
  std::string got;
  redis.command({"SET", "k", "over tls"}, [](std::error_code, value) {});
  redis.command({"GET", "k"}, [&got](std::error_code ec, value v) { got = ec ? ec.message() : v.text; });
  REQUIRE(run_until(io, [&] { return !got.empty(); }, 2s));
  return got;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("rediss: commands and a subscription over TLS, the server's certificate checked", "[redis][tls]") {
  tls_redis redis;
  asio::io_context io;
  CHECK(round_trip(io, redis.url(), trusting(redis.server_cert.cert_path())) == "over tls");

  sigkit::redis::subscriber inbox(io, endpoint_of(redis.url()), trusting(redis.server_cert.cert_path()));
  std::string heard;
  inbox.on_message([&heard](std::string_view, std::string payload) { heard = std::move(payload); });
  inbox.subscribe("inbox");
  inbox.start();
  REQUIRE(run_until(io, [&] { return inbox.connected(); }, 3s));
  redis.server.cli({"PUBLISH", "inbox", "hello"});
  REQUIRE(run_until(io, [&] { return !heard.empty(); }, 2s));
  CHECK(heard == "hello");
}

TEST_CASE("rediss: a certificate from another CA, or for another name, never connects and says why",
          "[redis][tls]") {
  asio::io_context io;
  tls_redis redis;
  test_certificate stranger;
  auto untrusted = round_trip(io, redis.url(), trusting(stranger.cert_path()));
  INFO(untrusted);
  CHECK(contains(untrusted, "TLS handshake with rediss://127.0.0.1:"));
  CHECK(contains(untrusted, "certificate verify failed"));

  tls_redis elsewhere("DNS:cache.example");
  auto wrong_address = round_trip(io, elsewhere.url(), trusting(elsewhere.server_cert.cert_path()));
  INFO(wrong_address);
  CHECK(contains(wrong_address, "certificate verify failed"));
  CHECK(contains(wrong_address, "IP address mismatch"));
  auto wrong_name = round_trip(io, "rediss://localhost:" + std::to_string(elsewhere.tls_port),
                               trusting(elsewhere.server_cert.cert_path()));
  INFO(wrong_name);
  CHECK(contains(wrong_name, "hostname mismatch"));

  // And the system's store does not know a self-signed certificate.
  CHECK(contains(round_trip(io, redis.url(), quick()), "certificate verify failed"));
}

TEST_CASE("rediss: a server that asks for a client certificate gets ours", "[redis][tls]") {
  asio::io_context io;
  test_certificate client_cert;
  tls_redis redis("IP:127.0.0.1", client_cert.cert_path());
  auto o = trusting(redis.server_cert.cert_path());
  o.tls.cert_file = client_cert.cert_path();
  o.tls.key_file = client_cert.key_path();
  CHECK(round_trip(io, redis.url(), o) == "over tls");
  // Without one, Redis hangs up during the handshake.
  CHECK_FALSE(round_trip(io, redis.url(), trusting(redis.server_cert.cert_path())) == "over tls");
}

TEST_CASE("rediss: files that cannot be read are refused when the connection is made", "[redis][tls]") {
  asio::io_context io;
  auto at = endpoint_of("rediss://127.0.0.1:1");
  auto o = quick();
  o.tls.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH(sigkit::redis::connection(io, at, o), Catch::Contains("TLS CA file /nonexistent/ca.pem"));
  o = quick();
  o.tls.cert_file = "/nonexistent/cert.pem";
  CHECK_THROWS_WITH(sigkit::redis::connection(io, at, o), Catch::Contains("needs its key"));
  // A plain redis:// URL never reads them.
  CHECK_NOTHROW(sigkit::redis::connection(io, endpoint_of("redis://127.0.0.1:1"), o));
}
