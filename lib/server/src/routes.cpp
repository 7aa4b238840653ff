#include "routes.hpp"

#include <vector>

#include "event_loop.hpp"
#include "process_stats.hpp"
#include "server_state.hpp"
#include "sigkit/http/query.hpp"
#include "sigkit/proto/message.hpp"
#include "sigkit/websocket/handshake.hpp"

namespace sigkit::server {
namespace {

route respond(http::response r) {
  route out;
  out.response = std::move(r);
  return out;
}

route refuse(http::response r, metrics::refusal why) {
  route out = respond(std::move(r));
  out.refused = why;
  out.response.close = true;
  return out;
}

std::string metrics_text(const server_state& state) {
  std::vector<const metrics::loop_metrics*> loops;
  for (const auto& loop : state.loops) loops.push_back(&loop->metrics());
  metrics::server_gauges gauges;
  gauges.rooms = state.rooms->room_count();
  gauges.queued_bytes = state.queued_bytes.load(std::memory_order_relaxed);
  gauges.ready = !state.draining.load();
  auto text = metrics::prometheus_text(loops, gauges, read_process_figures(), state.opts.version);
  state.rooms->write_metrics(text);
  return text;
}

// Browsers cannot set headers on a WebSocket: `?token=` on the URL; other
// clients may use Authorization: Bearer (RFC 6750 §2.1).
std::string token_of(const http_request& req) {
  std::string_view header = req.authorization;
  if (header.size() > 7 && (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer ")) {
    header.remove_prefix(7);
    while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
    return std::string(header);
  }
  return http::query_parameter(req.target, "token").value_or("");
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// RFC 6455 §4.2.1: what makes a request a valid opening handshake.
route websocket_endpoint(const server_state& state, const http_request& req) {
  if (!websocket::has_token(req.connection, "upgrade") || !websocket::has_token(req.upgrade, "websocket")) {
    auto r = http::text(426, "this is the WebSocket endpoint");
    r.headers.emplace_back("Upgrade", "websocket");
    return respond(std::move(r));
  }
  if (req.method != "GET" || req.version != 11)
    return refuse(http::text(400, "a WebSocket upgrade is a GET over HTTP/1.1"), metrics::refusal::bad_handshake);
  if (req.websocket_version != "13") {
    auto r = http::text(426, "only WebSocket version 13 is spoken here");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    return refuse(std::move(r), metrics::refusal::bad_handshake);
  }
  auto accept = websocket::accept_key(req.websocket_key);
  if (!accept)
    return refuse(http::text(400, "Sec-WebSocket-Key must be 16 bytes in base64"), metrics::refusal::bad_handshake);
  if (!state.origins.allows(req.origin, req.host))
    return refuse(http::text(403, "origin not allowed"), metrics::refusal::origin);
  if (state.closing.load()) {
    auto r = http::text(503, "shutting down");
    r.headers.emplace_back("Retry-After", "1");
    return refuse(std::move(r), metrics::refusal::shutting_down);
  }
  route out;
  if (state.token_keys) {
    auto verified = auth::verify(token_of(req), *state.token_keys, state.token_rules, unix_now());
    if (!verified) {
      // RFC 6750 §3: the reason in a word, never the token.
      auto r = http::text(401, "token refused: " + std::string(auth::to_string(verified.error())));
      r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      auto refused = refuse(std::move(r), metrics::refusal::auth);
      refused.token_refused = verified.error();
      return refused;
    }
    out.claims = std::move(*verified);
  }
  out.what = route::kind::upgrade;
  out.accept_key = std::move(*accept);
  return out;
}

}  // namespace

http::response capacity_refusal(const server_state&) {
  auto r = http::text(503, "too many connections");
  r.headers.emplace_back("Retry-After", "5");
  r.close = true;
  return r;
}

route route_request(const server_state& state, const http_request& req) {
  auto path = http::target_path(req.target);
  if (!path) {
    auto r = http::text(400, "the request target must start with /");
    r.close = true;
    return respond(std::move(r));
  }
  if (*path == "/ws") return websocket_endpoint(state, req);
  if (websocket::has_token(req.upgrade, "websocket")) {
    auto r = http::text(404, "the WebSocket endpoint is /ws");
    r.close = true;
    return respond(std::move(r));
  }
  if (req.method != "GET" && req.method != "HEAD") {
    auto r = http::text(405, "only GET and HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    r.close = true;  // a body may follow that we will not read
    return respond(std::move(r));
  }
  if (req.has_body) {
    auto r = http::text(400, "a GET has no body");
    r.close = true;
    return respond(std::move(r));
  }
  if (*path == "/healthz") return respond(http::text(200, "ok"));  // liveness: true until the process exits
  if (*path == "/readyz") {
    if (state.draining.load()) return respond(http::text(503, "draining"));
    if (auto why = state.rooms->not_ready()) return respond(http::text(503, *why));
    return respond(http::text(200, "ready"));
  }
  if (*path == "/metrics") {
    http::response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_text(state);
    return respond(std::move(r));
  }
  if (state.files.enabled()) {
    route out;
    out.what = route::kind::static_file;
    out.path = std::string(*path);
    return out;
  }
  if (*path == "/" || proto::is_valid_room(path->substr(1))) {
    http::response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = state.opts.demo_page;
    return respond(std::move(r));
  }
  return respond(http::text(404, "not found"));
}

}  // namespace sigkit::server
