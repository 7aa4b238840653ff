// sigserve's TLS listener as clients meet it: wss:// and https:// with a
// certificate made for the run, plain HTTP sent to it, and a certificate
// renewed under live connections (SIGHUP).
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "sigkit/client/client.hpp"
#include "support/expectations.hpp"
#include "support/raw_socket.hpp"
#include "support/sigserve_process.hpp"
#include "support/test_certificate.hpp"

using namespace std::chrono_literals;
using json = nlohmann::json;
using sigkit::client::blocking_connection;
using sigkit::client::connect_options;
using sigkit::client::message_kind;
using sigkit::test::expect;
using sigkit::test::sigserve_process;
using sigkit::test::test_certificate;

namespace {

std::error_code connect_tls(blocking_connection& c, const sigserve_process& s, const std::string& ca) {
  connect_options o;
  o.ca_file = ca;
  return c.connect(s.ws_url(), o);
}

}  // namespace

TEST_CASE("with --tls-cert the listener speaks wss:// and https:// only", "[sigserve][tls]") {
  test_certificate cert;
  sigserve_process s({"--tls-cert", cert.cert_path(), "--tls-key", cert.key_path()});
  REQUIRE(s.ws_url().rfind("wss://", 0) == 0);
  blocking_connection a, b;
  REQUIRE_FALSE(connect_tls(a, s, cert.cert_path()));
  REQUIRE_FALSE(connect_tls(b, s, cert.cert_path()));
  REQUIRE(a.join("secure")->kind == message_kind::joined);
  REQUIRE(b.join("secure")->kind == message_kind::joined);
  expect(a, message_kind::peer_joined);
  // A large relay crosses several TLS records intact.
  std::string sdp(60'000, 'v');
  a.send(json{{"type", "offer"}, {"to", b.peer()}, {"sdp", sdp}});
  auto offer = expect(b, message_kind::relay);
  CHECK(offer.body["sdp"] == sdp);

  // Without the certificate's CA, the client refuses the server.
  blocking_connection stranger;
  auto refused = stranger.connect(s.ws_url());
  REQUIRE(refused);
  CHECK(sigkit::client::is_certificate_error(refused));

  // Plain HTTP to the TLS port gets a plain answer saying so.
  sigkit::test::raw_socket plain(s.port());
  plain.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  auto answer = plain.read_until("wss://", 3s);
  CHECK(sigkit::test::http_status(answer) == 400);
  CHECK(answer.find("this port speaks HTTPS") != std::string::npos);
}

TEST_CASE("SIGHUP renews the certificate without dropping a connection; a bad file keeps the old one", "[sigserve][tls]") {
  namespace fs = std::filesystem;
  test_certificate first, second;
  auto dir = fs::temp_directory_path() / ("sigserve-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  fs::copy_file(first.cert_path(), cert, fs::copy_options::overwrite_existing);
  fs::copy_file(first.key_path(), key, fs::copy_options::overwrite_existing);
  sigserve_process s({"--tls-cert", cert, "--tls-key", key});

  blocking_connection old;
  REQUIRE_FALSE(connect_tls(old, s, first.cert_path()));
  REQUIRE(old.join("renew")->kind == message_kind::joined);

  // The renewal: new files, then SIGHUP.
  fs::copy_file(second.cert_path(), cert, fs::copy_options::overwrite_existing);
  fs::copy_file(second.key_path(), key, fs::copy_options::overwrite_existing);
  ::kill(s.pid(), SIGHUP);
  bool renewed = false;
  for (int i = 0; i < 50 && !renewed; ++i) {
    std::this_thread::sleep_for(40ms);
    blocking_connection probe;
    renewed = !connect_tls(probe, s, second.cert_path());
  }
  CHECK(renewed);
  blocking_connection with_old_ca;
  CHECK(connect_tls(with_old_ca, s, first.cert_path()));  // the old certificate is no longer served
  // The connection made before the renewal lives on.
  old.send_text(R"({"type":"ping","rid":"still"})");
  CHECK(expect(old, message_kind::pong).body["rid"] == "still");

  // A broken renewal is logged and the pair in use kept.
  { std::ofstream(key) << "not a key\n"; }
  ::kill(s.pid(), SIGHUP);
  std::this_thread::sleep_for(300ms);
  blocking_connection after;
  CHECK_FALSE(connect_tls(after, s, second.cert_path()));
  for (int i = 0; i < 50 && s.log().find("tls-reload-failed") == std::string::npos; ++i)
    std::this_thread::sleep_for(40ms);
  CHECK(s.log().find("tls-reload-failed") != std::string::npos);
  CHECK(s.log().find("not a key") == std::string::npos);  // file contents never reach the log
  fs::remove_all(dir);
}

TEST_CASE("TLS flags are checked at start", "[sigserve][tls][cli]") {
  using sigkit::test::run_command;
  test_certificate cert;
  auto bin = sigkit::test::sigserve_path();
  auto alone = run_command({bin, "--tls-cert", cert.cert_path()});
  CHECK(alone.status == 2);
  CHECK(alone.err.find("--tls-key") != std::string::npos);
  auto swapped = run_command({bin, "--port", "0", "--tls-cert", cert.key_path(), "--tls-key", cert.cert_path()});
  CHECK(swapped.status == 1);  // could not start: the files are not what they claim
  CHECK(swapped.err.rfind("sigserve: ", 0) == 0);
}
