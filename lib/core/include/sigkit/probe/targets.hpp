// What to probe: URIs from the command line, an RTCIceServer list or a
// signaling server's welcome, each with the credentials it should use. Pure:
// the caller passes "now" for the TURN REST expiry, reads any file and
// fetches any welcome itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sigkit/probe/probe.hpp"
#include "sigkit/result.hpp"

namespace sigkit::probe {

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

// Contradictory or incomplete credential flags (--password without
// --username, --secret with --password, ...), as one line; nullopt if fine.
std::optional<std::string> check_credential_options(const credential_options& c);

// Parses every URI and gives each TURN URI its credentials: an ICE server's
// own username/credential first, then --secret (TURN REST), then
// --username/--password. A bad URI, a turn: URI with no credentials or
// contradictory flags is an error (sigprobe's exit code 2).
result<std::vector<target>, std::string> make_targets(const std::vector<std::string>& uris,
                                                      const std::vector<ice_server>& ice_servers,
                                                      const credential_options& c);

// A signaling server's welcome (protocol 1.1, "Additions in 1.1") read for
// --from-sigserve: its `ice_servers` become targets exactly as
// --ice-servers would make them (an entry's username/credential are
// long-term credentials, here TURN REST ones minted for this connection;
// entries without them fall back to the flags). What is wrong with the list
// is the signaling stage's failure, never a usage error: the user did not
// write it.
struct welcome_reading {
  welcome_facts welcome_;
  std::vector<target> targets_;
  std::optional<failure> failure_;  // no_ice_servers or bad_response; the hint is left to signaling_hint()
};
welcome_reading read_welcome(const nlohmann::json& welcome, const credential_options& c);

// Whether any target speaks TLS (stuns:, turns:), so the run needs its TLS
// context (one per run: loading a CA bundle costs milliseconds).
bool needs_tls(const std::vector<target>& targets) noexcept;

}  // namespace sigkit::probe
