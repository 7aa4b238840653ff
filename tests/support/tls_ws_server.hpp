// A small wss:// server for the TLS tests of the client and sigbench, apart
// from sigserve's own listener: Beast over Asio's OpenSSL stream, every
// connection a coroutine on one thread of its own. It speaks just enough
// protocol v1: a `welcome` on connect, `pong` to `ping`, and rooms and
// relays through the real room registry, so a sigbench run can complete.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace sigkit::test {

class tls_ws_server {
 public:
  // Serves on a free port of 127.0.0.1 with this certificate chain and key.
  tls_ws_server(const std::string& cert_path, const std::string& key_path);
  ~tls_ws_server();
  tls_ws_server(const tls_ws_server&) = delete;
  tls_ws_server& operator=(const tls_ws_server&) = delete;

  std::uint16_t port() const;
  // wss://HOST:PORT/ws; HOST must lead to 127.0.0.1.
  std::string url(const std::string& host = "127.0.0.1") const;
  // Sessions that got as far as a welcome.
  std::uint64_t welcomed() const;
  // The SNI host name of the last completed TLS handshake; empty for none.
  std::string last_server_name() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::test
