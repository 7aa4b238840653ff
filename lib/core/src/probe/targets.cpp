// URIs and credentials for sigprobe: RTCIceServer lists, a signaling
// server's welcome and command-line flags turned into targets. Pure; the
// errors are what the user reads.
#include "sigkit/probe/targets.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "sigkit/stun/credentials.hpp"

namespace sigkit::probe {

namespace {

using json = nlohmann::json;

// `list` names the list in errors: "iceServers" for a file, "ice_servers"
// for a welcome.
result<ice_server, std::string> ice_server_from(const json& j, std::size_t index, const char* list) {
  const std::string where = std::string(list) + "[" + std::to_string(index) + "]";
  if (!j.is_object()) return where + ": expected an object with \"urls\"";
  ice_server s;
  // W3C webrtc-pc: urls is a string or a sequence of strings. Older code
  // used "url"; accept it so a pasted legacy config still probes.
  const char* key = j.contains("urls") ? "urls" : (j.contains("url") ? "url" : nullptr);
  if (key == nullptr) return where + ": missing \"urls\"";
  const auto& urls = j.at(key);
  if (urls.is_string()) {
    s.urls_.push_back(urls.get<std::string>());
  } else if (urls.is_array()) {
    for (const auto& u : urls) {
      if (!u.is_string()) return where + ".urls: every entry must be a string";
      s.urls_.push_back(u.get<std::string>());
    }
  } else {
    return where + ".urls: expected a string or an array of strings";
  }
  if (s.urls_.empty()) return where + ".urls: empty";
  for (const char* field : {"username", "credential"}) {
    if (!j.contains(field) || j.at(field).is_null()) continue;
    if (!j.at(field).is_string()) return where + "." + field + ": expected a string";
    (std::string_view(field) == "username" ? s.username_ : s.credential_) = j.at(field).get<std::string>();
  }
  if (j.contains("credentialType") && j.at("credentialType") != "password")
    return where + ".credentialType: only \"password\" is supported";
  return s;
}

}  // namespace

result<std::vector<ice_server>, std::string> parse_ice_servers(std::string_view json_text) {
  json doc = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return std::string("not valid JSON (expected an array of RTCIceServer objects)");
  if (doc.is_object() && doc.contains("iceServers")) doc = doc.at("iceServers");
  if (doc.is_object()) doc = json::array({doc});  // a single RTCIceServer
  if (!doc.is_array()) return std::string("expected an array of RTCIceServer objects");
  std::vector<ice_server> out;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    auto s = ice_server_from(doc[i], i, "iceServers");
    if (!s) return s.error();
    out.push_back(std::move(s.value()));
  }
  if (out.empty()) return std::string("the iceServers list is empty");
  return out;
}

std::optional<std::string> check_credential_options(const credential_options& c) {
  if (c.secret_ && c.password_) return std::string("--secret and --password exclude each other");
  if (c.password_ && !c.username_) return std::string("--password needs --username");
  if (c.username_ && !c.password_ && !c.secret_) return std::string("--username needs --password (or --secret)");
  if (c.ttl_.count() <= 0) return std::string("--ttl must be positive");
  return std::nullopt;
}

result<std::vector<target>, std::string> make_targets(const std::vector<std::string>& uris,
                                                      const std::vector<ice_server>& ice_servers,
                                                      const credential_options& c) {
  if (auto e = check_credential_options(c)) return *e;

  // Flags apply to every URI that brings no credentials of its own.
  credentials from_flags;
  if (c.secret_) {
    const auto rest = stun::make_turn_rest_credentials(*c.secret_, c.username_.value_or(""), c.now_unix_,
                                                       c.ttl_.count());
    from_flags = credentials{rest.username_, rest.password_, credential_source::rest_secret};
  } else if (c.username_) {
    from_flags = credentials{*c.username_, *c.password_, credential_source::long_term};
  }

  std::vector<target> out;
  auto add = [&](const std::string& text, const credentials& own) -> std::optional<std::string> {
    auto u = stun::parse_uri(text);
    if (!u) return u.error();
    target t{text, *u, {}};
    if (t.uri_.is_turn()) {
      t.credentials_ = own.source_ != credential_source::none ? own : from_flags;
      if (t.credentials_.source_ == credential_source::none)
        return text + ": TURN needs credentials: --username and --password, or --secret";
    }
    out.push_back(std::move(t));
    return std::nullopt;
  };
  for (const auto& text : uris)
    if (auto e = add(text, {})) return *e;
  for (const auto& s : ice_servers) {
    credentials own;
    if (s.username_ && s.credential_) own = credentials{*s.username_, *s.credential_, s.source_};
    for (const auto& text : s.urls_)
      if (auto e = add(text, own)) return *e;
  }
  if (out.empty())
    return std::string(
        "nothing to probe: give a URI (stun:host, turn:host...), --ice-servers FILE or --from-sigserve URL");
  return out;
}

namespace {

std::string string_member(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

failure welcome_failure(failure_kind kind, std::string reason) {
  failure f;
  f.kind_ = kind;
  f.reason_ = std::move(reason);
  return f;
}

}  // namespace

welcome_reading read_welcome(const json& welcome, const credential_options& c) {
  welcome_reading out;
  auto& w = out.welcome_;
  if (!welcome.is_object()) {
    out.failure_ = welcome_failure(failure_kind::wrong_protocol, "the welcome is not a JSON object");
    return out;
  }
  w.server_ = string_member(welcome, "server");
  w.peer_ = string_member(welcome, "peer");
  if (const auto p = welcome.find("protocol"); p != welcome.end() && p->is_number_integer())
    w.protocol_ = p->get<int>();
  if (const auto f = welcome.find("features"); f != welcome.end() && f->is_array())
    for (const auto& feature : *f)
      if (feature.is_string()) w.features_.push_back(feature.get<std::string>());

  // Protocol 1.1: a server with ICE servers configured lists them, and says
  // "ice-servers" in features; one without omits both.
  const auto list = welcome.find("ice_servers");
  if (list == welcome.end() || list->is_null()) {
    out.failure_ = welcome_failure(failure_kind::no_ice_servers, "the welcome has no ice_servers");
    return out;
  }
  if (!list->is_array()) {
    out.failure_ = welcome_failure(failure_kind::bad_response, "the welcome's ice_servers is not an array");
    return out;
  }
  if (list->empty()) {
    out.failure_ = welcome_failure(failure_kind::no_ice_servers, "the welcome's ice_servers is empty");
    return out;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto s = ice_server_from((*list)[i], i, "ice_servers");
    if (!s) {
      out.failure_ = welcome_failure(failure_kind::bad_response, s.error());
      return out;
    }
    // Minted for this connection by the signaling server (TURN REST): the
    // hints for a 401 then point at its secret.
    s->source_ = credential_source::signaling;
    w.ice_servers_.push_back(std::move(s.value()));
  }
  auto targets = make_targets({}, w.ice_servers_, c);
  if (!targets) {
    out.failure_ = welcome_failure(failure_kind::bad_response, "ice_servers: " + targets.error());
    return out;
  }
  out.targets_ = std::move(targets.value());
  return out;
}

bool needs_tls(const std::vector<target>& targets) noexcept {
  return std::any_of(targets.begin(), targets.end(), [](const target& t) { return t.uri_.secure(); });
}

}  // namespace sigkit::probe
