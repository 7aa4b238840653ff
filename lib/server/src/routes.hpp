// What each plain HTTP request gets: the WebSocket endpoint's admission, the
// health and metrics endpoints, the demo page or --static files.
#pragma once

#include <optional>
#include <string>

#include "http_request.hpp"
#include "sigkit/auth/jwt.hpp"
#include "sigkit/http/response.hpp"
#include "sigkit/metrics/server_metrics.hpp"

namespace sigkit::server {

struct server_state;

struct route {
  enum class kind { respond, upgrade, static_file } what = kind::respond;
  http::response response;  // respond
  std::string accept_key;   // upgrade: Sec-WebSocket-Accept
  std::string path;         // static_file: the request path
  std::optional<metrics::refusal> refused;  // an upgrade refused: why
  std::optional<auth::claims> claims;        // upgrade with auth on: what the token says
  std::optional<auth::token_error> token_refused;
};

// Decides; changes nothing. An admitted upgrade still has to take a slot
// under --max-connections (the caller does, atomically).
route route_request(const server_state& state, const http_request& request);

// The 503 for an upgrade that found no slot.
http::response capacity_refusal(const server_state& state);

}  // namespace sigkit::server
