// What the process-level tests of sigserve expect of a client connection,
// as Catch2 assertions: the next message and its kind, an error code,
// silence, a successful connect.
#pragma once

#include <chrono>
#include <string_view>

#include <catch2/catch.hpp>

#include "sigkit/client/client.hpp"
#include "support/sigserve_process.hpp"

namespace sigkit::test {

// The next message, which must exist and be of `kind`.
inline client::server_message expect(client::blocking_connection& c, client::message_kind kind,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
  auto m = c.receive(timeout);
  INFO("waiting for message kind " << static_cast<int>(kind));
  REQUIRE(m.ok());
  INFO("got " << m->body.dump());
  REQUIRE(m->kind == kind);
  return m.value();
}

inline client::server_message expect_error(client::blocking_connection& c, std::string_view code) {
  auto m = expect(c, client::message_kind::error);
  CHECK(m.code == code);
  CHECK_FALSE(m.text.empty());
  return m;
}

inline void connect(client::blocking_connection& c, const sigserve_process& server) {
  auto ec = c.connect(server.ws_url());
  INFO(ec.message() << "\nserver log:\n" << server.log());
  REQUIRE_FALSE(ec);
}

inline void expect_silence(client::blocking_connection& c,
                           std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
  auto m = c.receive(wait);
  if (m.ok()) FAIL("unexpected message: " << m->body.dump());
  CHECK(m.error() == std::error_code(client::errc::timeout));
}

}  // namespace sigkit::test
