#pragma once

#include <string>

namespace sigkit {

// A connection's id: 72 bits from the system CSPRNG as 12 base64url
// characters. Unguessable, URL-safe, and unique across server instances
// without coordination (a collision needs ~2^36 live ids).
std::string random_peer_id();

}  // namespace sigkit
