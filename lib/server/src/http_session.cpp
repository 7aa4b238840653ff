#include "http_session.hpp"

#include <string_view>

#include "event_loop.hpp"
#include "http_request.hpp"
#include "routes.hpp"
#include "websocket_session.hpp"

namespace sigkit::server {
namespace {

// Requests on one keep-alive connection before it is closed: browsers open
// new ones freely, and it keeps a client from holding a slot forever.
constexpr std::uint16_t max_requests = 100;

void answer(event_loop& loop, connection& c, http::response r, bool head_only, bool keep_alive) {
  if (!keep_alive || c.requests >= max_requests || loop.state().closing.load()) r.close = true;
  auto body = std::make_shared<const std::string>(std::move(r.body));
  loop.send(c, outbound::raw(std::make_shared<const std::string>(http::head(r, body->size(), loop.state().opts.server_name))));
  if (!head_only && !body->empty()) loop.send(c, outbound::raw(std::move(body)));
  if (r.close) c.close_when_flushed = true;
}

void refuse_upgrade(event_loop& loop, connection& c, metrics::refusal why, const http_request& req) {
  loop.counters().upgrades_refused[static_cast<std::size_t>(why)].add();
  if (why == metrics::refusal::auth) return;  // counted by reason by the caller; a client's mistake, not news
  if (why == metrics::refusal::origin)
    loop.warn_limited("origin-refused", {{"origin", req.origin.value_or("")}, {"remote", c.remote.to_string()}});
  else if (why == metrics::refusal::address_limit || why == metrics::refusal::address_rate)
    loop.warn_limited("address-refused", {{"reason", metrics::to_string(why)}, {"remote", c.remote.to_string()}});
  else if (why == metrics::refusal::capacity)
    loop.warn_limited("capacity-refused", {{"max_connections", loop.state().opts.max_connections},
                                           {"remote", c.remote.to_string()}});
}

// decisions.md: a refusal by address is 429 with Retry-After.
http::response address_refusal(bool too_many) {
  auto r = http::text(429, too_many ? "too many connections from your address" : "connecting too fast from your address");
  r.headers.emplace_back("Retry-After", too_many ? "10" : "1");
  r.close = true;
  return r;
}

void serve_file(event_loop& loop, connection& c, std::string path, bool head_only, bool keep_alive) {
  c.waiting_for_file = true;
  auto handle = loop.handle_of(c);
  auto* target = &loop;
  loop.state().files.serve(std::move(path), [target, handle, head_only, keep_alive](static_files::content file) {
    auto shared = std::make_shared<static_files::content>(std::move(file));
    target->post_to(handle, [target, shared, head_only, keep_alive](connection& conn) {
      if (conn.state != connection::phase::http) return;
      conn.waiting_for_file = false;
      http::response r;
      if (shared->status == 200) {
        r.content_type = std::string(shared->type);
        r.body = std::move(shared->body);
      } else if (shared->status == 413) {
        r = http::text(413, "file too large (see --static-max-bytes)");
      } else if (shared->status == 404) {
        r = http::text(404, "not found");
      } else {
        r = http::text(500, "could not read the file");
      }
      answer(*target, conn, std::move(r), head_only, keep_alive && !conn.eof);
    });
  });
}

}  // namespace

std::size_t http_session::consume(event_loop& loop, connection& c, std::span<char> bytes) {
  const std::string_view view(bytes.data(), bytes.size());
  if (c.waiting_for_file) {
    // A pipelined request waits for the one before it; it may not pile up.
    if (view.size() > max_request_head) {
      loop.close_now(c);
      return 0;
    }
    return 0;
  }
  auto end = find_head_end(view, c.scanned);
  if (!end || *end > max_request_head) {
    if (view.size() <= max_request_head && !end) {
      // Remember how far the search went: a head trickling in a byte at a
      // time must not be searched again from the start each time.
      c.scanned = static_cast<std::uint16_t>(view.size());
      return 0;
    }
    auto r = http::text(431, "request head larger than 16 KiB");
    r.close = true;
    answer(loop, c, std::move(r), false, false);
    return view.size();
  }
  c.scanned = 0;
  auto parsed = parse_request_head(view.substr(0, *end));
  if (!parsed) {
    auto r = http::text(400, "bad request: " + parsed.error());
    r.close = true;
    answer(loop, c, std::move(r), false, false);
    return view.size();
  }
  const auto& req = *parsed;
  ++c.requests;
  loop.renew_http(c);
  const bool head_only = req.method == "HEAD";
  auto decision = route_request(loop.state(), req);
  switch (decision.what) {
    case route::kind::upgrade: {
      auto& st = loop.state();
      // From here on the client is who a trusted proxy says it is.
      if (!st.trusted_proxies.empty())
        c.remote = peer_address::from(http::client_address(c.remote.ip(), req.forwarded_for, st.trusted_proxies),
                                      c.remote.port);
      if (st.addresses.enabled()) {
        auto verdict = st.addresses.admit(c.remote.ip(), server_state::now_ms());
        if (verdict != address_limits::verdict::admitted) {
          bool many = verdict == address_limits::verdict::too_many;
          refuse_upgrade(loop, c, many ? metrics::refusal::address_limit : metrics::refusal::address_rate, req);
          answer(loop, c, address_refusal(many), head_only, false);
          return view.size();
        }
        c.address_counted = true;
      }
      if (st.websockets.fetch_add(1, std::memory_order_relaxed) >= st.opts.max_connections) {
        st.websockets.fetch_sub(1, std::memory_order_relaxed);
        refuse_upgrade(loop, c, metrics::refusal::capacity, req);
        answer(loop, c, capacity_refusal(st), head_only, false);
        return view.size();
      }
      if (decision.claims) {
        c.grant = std::make_unique<token_grant>();
        c.grant->claims = std::move(*decision.claims);
      }
      websocket_session::open(loop, c, decision.accept_key);
      return *end;
    }
    case route::kind::static_file:
      loop.counters().http_requests.add();
      serve_file(loop, c, std::move(decision.path), head_only, req.keep_alive);
      return *end;
    case route::kind::respond:
      if (decision.token_refused) {
        loop.counters().auth_failures[static_cast<std::size_t>(*decision.token_refused)].add();
        // Why, never what: the token itself is not logged.
        loop.warn_limited("auth-refused",
                          {{"reason", auth::to_string(*decision.token_refused)}, {"remote", c.remote.to_string()}});
      }
      if (decision.refused) refuse_upgrade(loop, c, *decision.refused, req);
      else loop.counters().http_requests.add();
      bool close = decision.response.close;
      answer(loop, c, std::move(decision.response), head_only, req.keep_alive);
      return close ? view.size() : *end;
  }
  return *end;
}

void http_session::on_eof(event_loop& loop, connection& c) {
  // A client may half-close after its request and still read the answer.
  if (c.waiting_for_file || !c.out.empty()) c.close_when_flushed = true;
  else loop.close_now(c);
}

void http_session::on_deadline(event_loop& loop, connection& c) {
  const auto& o = loop.state().opts;
  if (c.out.rest) {
    if (loop.now() - c.stalled_since >= loop.ticks(o.write_timeout)) loop.close_now(c);
    return;
  }
  if (c.waiting_for_file) return;  // our own work, not the client's delay
  // The whole request (or the idle time before the next) is bounded, not the
  // gap between bytes: a slow-loris client gets nowhere.
  if (loop.now() - c.phase_since >= loop.ticks(o.handshake_timeout)) loop.close_now(c);
}

std::uint32_t http_session::deadline(const event_loop& loop, const connection& c) noexcept {
  const auto& o = loop.state().opts;
  if (c.out.rest) return c.stalled_since + loop.ticks(o.write_timeout);
  if (c.waiting_for_file) return loop.now() + loop.ticks(o.handshake_timeout);
  return c.phase_since + loop.ticks(o.handshake_timeout);
}

}  // namespace sigkit::server
