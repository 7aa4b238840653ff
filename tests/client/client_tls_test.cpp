// The library's client over wss://, against a small TLS WebSocket server of
// the test's own with certificates made per run: what verifies, what does
// not and why, and that one shared TLS context serves many connections.
#include "sigkit/client/client.hpp"

#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "support/test_certificate.hpp"
#include "support/tls_ws_server.hpp"

using sigkit::client::blocking_connection;
using sigkit::client::connect_options;
using sigkit::test::test_certificate;
using sigkit::test::tls_ws_server;

namespace {

namespace asio = boost::asio;

// One certificate for 127.0.0.1, ::1 and localhost for the whole run.
const test_certificate& loopback_certificate() {
  static const test_certificate cert;
  return cert;
}

connect_options trusting(const test_certificate& cert) {
  connect_options o;
  o.ca_file = cert.cert_path();
  o.timeout = std::chrono::seconds(5);
  return o;
}

connect_options insecure() {
  connect_options o;
  o.insecure = true;
  o.timeout = std::chrono::seconds(5);
  return o;
}

// A TCP listener on 127.0.0.1 that answers the first bytes it gets with
// `reply` (nothing: just close) and hangs up, for a wss:// URL that leads
// to something that does not speak TLS.
class not_tls_server {
 public:
  explicit not_tls_server(std::string reply)
      : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}), thread_([this, reply] {
          boost::system::error_code ec;
          asio::ip::tcp::socket socket(io_);
          acceptor_.accept(socket, ec);
          if (ec) return;
          char buf[16384];  // all of a ClientHello: unread bytes would make close() a reset
          socket.read_some(asio::buffer(buf), ec);
          if (!reply.empty()) asio::write(socket, asio::buffer(reply), ec);
          socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
        }) {}
  ~not_tls_server() {
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);  // wakes accept() if nobody came
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("wss:// URLs are parsed with their own default port", "[client]") {
  auto plain = sigkit::client::parse_ws_url("ws://example.test/ws");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->port == "80");

  auto secure = sigkit::client::parse_ws_url("wss://example.test");
  REQUIRE(secure);
  CHECK(secure->tls);
  CHECK(secure->host == "example.test");
  CHECK(secure->port == "443");
  CHECK(secure->path == "/ws");

  auto v6 = sigkit::client::parse_ws_url("WSS://[::1]:8443/signal?room=a");
  REQUIRE(v6);
  CHECK(v6->tls);
  CHECK(v6->host == "::1");
  CHECK(v6->port == "8443");
  CHECK(v6->path == "/signal?room=a");

  for (auto bad : {"https://example.test/ws", "http://example.test", "wss:/example.test", "example.test:443"}) {
    INFO(bad);
    auto r = sigkit::client::parse_ws_url(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().find("must start with ws:// or wss://") != std::string::npos);
  }
  CHECK(sigkit::client::parse_ws_url("wss://").error().find("no host") != std::string::npos);
  CHECK(sigkit::client::parse_ws_url("wss://example.test:99999/ws").error().find("bad host or port") !=
        std::string::npos);
}

TEST_CASE("a client trusting the server's certificate connects over wss:// and gets answers", "[client][tls]") {
  const auto& cert = loopback_certificate();
  tls_ws_server server(cert.cert_path(), cert.key_path());
  blocking_connection c;
  auto ec = c.connect(server.url(), trusting(cert));
  INFO(ec.message());
  REQUIRE_FALSE(ec);
  CHECK(c.welcome().protocol == 1);
  CHECK(c.welcome().server == "tls-test/1");
  CHECK_FALSE(c.peer().empty());
  // RFC 6066 §3: no SNI for an address.
  CHECK(server.last_server_name().empty());

  REQUIRE_FALSE(c.send({{"type", "ping"}, {"rid", 7}}));
  auto pong = c.receive();
  REQUIRE(pong);
  CHECK(pong->kind == sigkit::client::message_kind::pong);
  CHECK(pong->body["rid"] == 7);

  auto joined = c.join("tls-room");
  REQUIRE(joined);
  CHECK(joined->kind == sigkit::client::message_kind::joined);
  CHECK_FALSE(c.close());
}

TEST_CASE("a host name is sent as SNI and checked against the certificate", "[client][tls]") {
  const auto& cert = loopback_certificate();
  tls_ws_server server(cert.cert_path(), cert.key_path());
  blocking_connection c;
  auto ec = c.connect(server.url("localhost"), trusting(cert));
  INFO(ec.message());
  REQUIRE_FALSE(ec);
  CHECK(server.last_server_name() == "localhost");
}

TEST_CASE("an untrusted certificate fails with OpenSSL's reason, and insecure connects anyway", "[client][tls]") {
  const auto& cert = loopback_certificate();
  tls_ws_server server(cert.cert_path(), cert.key_path());
  {
    // The system's store does not know the test's self-signed certificate.
    blocking_connection c;
    connect_options o;
    o.timeout = std::chrono::seconds(5);
    auto ec = c.connect(server.url(), o);
    CHECK(ec.category() == sigkit::client::tls_category());
    CHECK(ec.message() == "certificate verify failed (self-signed certificate)");
    CHECK(sigkit::client::is_certificate_error(ec));
  }
  {
    blocking_connection c;
    auto ec = c.connect(server.url(), insecure());
    INFO(ec.message());
    REQUIRE_FALSE(ec);
    REQUIRE_FALSE(c.send({{"type", "ping"}}));
    auto pong = c.receive();
    REQUIRE(pong);
    CHECK(pong->kind == sigkit::client::message_kind::pong);
  }
}

TEST_CASE("a certificate for another name fails verification unless insecure", "[client][tls]") {
  const test_certificate other("DNS:other.test,IP:127.0.0.2");
  tls_ws_server server(other.cert_path(), other.key_path());
  {
    blocking_connection c;
    auto ec = c.connect(server.url("127.0.0.1"), trusting(other));
    CHECK(ec.category() == sigkit::client::tls_category());
    CHECK(ec.message() == "certificate verify failed (IP address mismatch)");
  }
  {
    blocking_connection c;
    auto ec = c.connect(server.url("localhost"), trusting(other));
    CHECK(ec.category() == sigkit::client::tls_category());
    CHECK(ec.message() == "certificate verify failed (hostname mismatch)");
  }
  {
    blocking_connection c;
    auto ec = c.connect(server.url("localhost"), insecure());
    INFO(ec.message());
    CHECK_FALSE(ec);
  }
}

TEST_CASE("one shared TLS context serves many connections", "[client][tls]") {
  const auto& cert = loopback_certificate();
  tls_ws_server server(cert.cert_path(), cert.key_path());
  auto context = sigkit::client::make_tls_context(cert.cert_path());
  REQUIRE(context);

  asio::io_context io;
  constexpr int count = 20;
  std::vector<std::unique_ptr<sigkit::client::connection>> connections;
  std::vector<std::error_code> results(count, sigkit::client::errc::timeout);
  for (int i = 0; i < count; ++i) {
    connections.push_back(std::make_unique<sigkit::client::connection>(io.get_executor()));
    connect_options o;
    o.tls = context.value();
    o.ca_file = "/nonexistent.pem";  // not read: the shared context wins
    asio::co_spawn(io, connections.back()->connect(server.url(), o),
                   [&results, i](std::exception_ptr e, std::error_code ec) {
                     if (e) std::rethrow_exception(e);
                     results[static_cast<std::size_t>(i)] = ec;
                   });
  }
  io.run_for(std::chrono::seconds(10));
  for (const auto& ec : results) {
    INFO(ec.message());
    CHECK_FALSE(ec);
  }
  CHECK(server.welcomed() == count);
  // Everything a connection holds of it is released with the connections.
  connections.clear();
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  CHECK(context.value().use_count() == 1);
}

TEST_CASE("a CA file that cannot be used is an error that says so", "[client][tls]") {
  auto missing = sigkit::client::make_tls_context("/nonexistent/ca.pem");
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == std::errc::no_such_file_or_directory);

  const std::string not_pem =
      (std::filesystem::temp_directory_path() / ("sigkit-client-test-" + std::to_string(getpid()) + ".pem")).string();
  std::ofstream(not_pem) << "not a certificate\n";
  auto garbage = sigkit::client::make_tls_context(not_pem);
  std::remove(not_pem.c_str());
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().category() == sigkit::client::tls_category());
  CHECK_FALSE(garbage.error().message().empty());
  INFO(garbage.error().message());

  // connect() without a shared context builds one and reports the same.
  blocking_connection c;
  connect_options o;
  o.ca_file = "/nonexistent/ca.pem";
  CHECK(c.connect("wss://127.0.0.1:1/ws", o) == std::errc::no_such_file_or_directory);
}

TEST_CASE("a wss:// URL that leads to something else than TLS fails as TLS", "[client][tls]") {
  {
    not_tls_server http("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    blocking_connection c;
    auto ec = c.connect("wss://127.0.0.1:" + std::to_string(http.port()) + "/ws", insecure());
    INFO(ec.message());
    CHECK(ec.category() == sigkit::client::tls_category());
    CHECK(ec.message() == "wrong version number");
    CHECK_FALSE(sigkit::client::is_certificate_error(ec));
  }
  {
    not_tls_server silent("");
    blocking_connection c;
    auto ec = c.connect("wss://127.0.0.1:" + std::to_string(silent.port()) + "/ws", insecure());
    INFO(ec.message());
    CHECK(ec.category() == sigkit::client::tls_category());
    CHECK(ec.message() == "unexpected eof while reading");
  }
}
