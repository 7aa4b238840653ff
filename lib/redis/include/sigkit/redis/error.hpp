// The failures of sigkit::redis, beside the server's own error replies.
//
// A command's handler gets either no error and the reply, or one of these
// and, for server_error only, the error reply itself (its text is Redis'
// message: "WRONGTYPE Operation against a key holding the wrong kind of
// value", "NOSCRIPT ...").
#pragma once

#include <system_error>

namespace sigkit::redis {

enum class errc {
  timeout = 1,      // no reply within the deadline (the connection is dropped and re-established)
  unavailable,      // not connected (connecting, or waiting to reconnect): the command was not sent
  connection_lost,  // the connection went down after the command was sent: it may or may not have run
  protocol,         // the server sent what is not RESP2, or over a limit (the connection is dropped)
  server_error,     // Redis answered with an error reply
  backlog_full,     // options::max_in_flight commands await their replies already: not sent
};

const std::error_category& error_category() noexcept;
inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

}  // namespace sigkit::redis

template <>
struct std::is_error_code_enum<sigkit::redis::errc> : std::true_type {};
