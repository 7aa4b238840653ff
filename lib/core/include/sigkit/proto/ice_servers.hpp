// The `ice_servers` of a welcome (protocol.md, "Additions in 1.1"): what a
// browser passes to new RTCPeerConnection({iceServers}), with TURN REST
// credentials minted for this one connection (coturn's use-auth-secret:
// username "<unix expiry>:<user or peer id>", credential
// base64(HMAC-SHA1(secret, username))).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sigkit::proto {

struct ice_config {
  std::vector<std::string> stun_uris;  // stun: / stuns:
  std::vector<std::string> turn_uris;  // turn: / turns:, all sharing the secret
  std::string turn_secret;             // coturn's static-auth-secret
  std::chrono::seconds turn_ttl{3600};

  bool empty() const noexcept { return stun_uris.empty() && turn_uris.empty(); }
};

// A JSON array of RTCIceServer objects: one entry with every STUN URI, one
// with every TURN URI and the credentials for `user` (the token's subject
// when authenticated, else the peer id), valid until now + ttl.
std::string ice_servers_json(const ice_config& config, std::string_view user, std::int64_t now_unix_seconds);

}  // namespace sigkit::proto
