// URIs and credentials for sigprobe: RTCIceServer lists and command-line
// flags turned into targets. Pure; the errors are what the user reads.
#include "sigkit/probe/targets.hpp"

#include <nlohmann/json.hpp>

#include "sigkit/stun/credentials.hpp"

namespace sigkit::probe {

namespace {

using json = nlohmann::json;

result<ice_server, std::string> ice_server_from(const json& j, std::size_t index) {
  const std::string where = "iceServers[" + std::to_string(index) + "]";
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
    auto s = ice_server_from(doc[i], i);
    if (!s) return s.error();
    out.push_back(std::move(s.value()));
  }
  if (out.empty()) return std::string("the iceServers list is empty");
  return out;
}

result<std::vector<target>, std::string> make_targets(const std::vector<std::string>& uris,
                                                      const std::vector<ice_server>& ice_servers,
                                                      const credential_options& c) {
  if (c.secret_ && c.password_) return std::string("--secret and --password exclude each other");
  if (c.password_ && !c.username_) return std::string("--password needs --username");
  if (c.username_ && !c.password_ && !c.secret_) return std::string("--username needs --password (or --secret)");
  if (c.ttl_.count() <= 0) return std::string("--ttl must be positive");

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
    if (s.username_ && s.credential_) own = credentials{*s.username_, *s.credential_, credential_source::long_term};
    for (const auto& text : s.urls_)
      if (auto e = add(text, own)) return *e;
  }
  if (out.empty()) return std::string("nothing to probe: give a URI (stun:host, turn:host...) or --ice-servers FILE");
  return out;
}

}  // namespace sigkit::probe
