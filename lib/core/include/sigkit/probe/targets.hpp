// What to probe: URIs from the command line or an RTCIceServer list, each
// with the credentials it should use. Pure: the caller passes "now" for the
// TURN REST expiry and reads any file itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/probe/probe.hpp"
#include "sigkit/result.hpp"

namespace sigkit::probe {

// One entry of RTCConfiguration.iceServers (W3C webrtc-pc §4.2.2):
//   { "urls": "turn:host" | ["stun:host", ...], "username": "...", "credential": "..." }
struct ice_server {
  std::vector<std::string> urls_;
  std::optional<std::string> username_;
  std::optional<std::string> credential_;
};

// Accepts the JSON array a web app passes as `iceServers`, or an object with
// an "iceServers" member (a whole RTCConfiguration). Errors are one line.
result<std::vector<ice_server>, std::string> parse_ice_servers(std::string_view json_text);

// Credentials from the command line.
struct credential_options {
  std::optional<std::string> username_;  // --username (with --secret: the REST user part)
  std::optional<std::string> password_;  // --password
  std::optional<std::string> secret_;    // --secret: coturn static-auth-secret
  std::chrono::seconds ttl_{3600};       // --ttl for REST credentials
  std::int64_t now_unix_ = 0;
};

// Parses every URI and gives each TURN URI its credentials: an ICE server's
// own username/credential first, then --secret (TURN REST), then
// --username/--password. A bad URI, a turn: URI with no credentials or
// contradictory flags is an error (sigprobe's exit code 2).
result<std::vector<target>, std::string> make_targets(const std::vector<std::string>& uris,
                                                      const std::vector<ice_server>& ice_servers,
                                                      const credential_options& c);

}  // namespace sigkit::probe
