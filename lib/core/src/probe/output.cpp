// sigprobe's output: text for people, JSON for scripts (docs/sigprobe.md).
#include "sigkit/probe/output.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "sigkit/probe/diagnosis.hpp"

namespace sigkit::probe {

namespace {

using json = nlohmann::ordered_json;

// Milliseconds with two decimals: enough for loopback RTTs, short for people.
double rounded(double ms) { return std::round(ms * 100.0) / 100.0; }

std::string ms_text(double ms) {
  char buf[32];
  if (ms < 10) std::snprintf(buf, sizeof buf, "%.2f", ms);
  else if (ms < 100) std::snprintf(buf, sizeof buf, "%.1f", ms);
  else std::snprintf(buf, sizeof buf, "%.0f", ms);
  return buf;
}

std::string duration_text(double ms) {
  if (ms < 1000) return ms_text(ms) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000.0);
  return buf;
}

json rtt_json(const rtt_summary& r) {
  json j = {{"sent", r.sent_}, {"received", r.received_}, {"loss", rounded(r.loss() * 100.0) / 100.0}};
  if (r.received_ > 0)
    j["rtt_ms"] = {{"min", rounded(r.min_ms_)}, {"avg", rounded(r.avg_ms_)}, {"max", rounded(r.max_ms_)}};
  return j;
}

std::string rtt_text(const rtt_summary& r) {
  std::string s;
  if (r.received_ > 0)
    s = "rtt " + ms_text(r.min_ms_) + "/" + ms_text(r.avg_ms_) + "/" + ms_text(r.max_ms_) + " ms (min/avg/max), ";
  char loss[16];
  std::snprintf(loss, sizeof loss, "%.0f%%", r.loss() * 100.0);
  return s + loss + " loss (" + std::to_string(r.received_) + "/" + std::to_string(r.sent_) + ")";
}

void put_address(json& j, const char* key, const std::optional<stun::address>& a) {
  if (a) j[key] = a->to_string();
}

struct facts_json {
  json& j;
  void operator()(const std::monostate&) const {}
  void operator()(const dns_facts& f) const {
    j["literal"] = f.literal_;
    j["a"] = json::array();
    j["aaaa"] = json::array();
    for (const auto& a : f.ipv4_) j["a"].push_back(a.ip_string());
    for (const auto& a : f.ipv6_) j["aaaa"].push_back(a.ip_string());
    j["tried"] = json::array();
    for (const auto& t : f.tried_) j["tried"].push_back({{"address", t.address_.to_string()}, {"outcome", t.outcome_}});
  }
  void operator()(const connect_facts& f) const {
    j["remote_address"] = f.remote_.to_string();
    j["local_address"] = f.local_.to_string();
  }
  void operator()(const tls_facts& f) const {
    j["sni"] = f.sni_.empty() ? json(nullptr) : json(f.sni_);
    j["version"] = f.version_;
    j["cipher"] = f.cipher_;
    j["subject"] = f.subject_;
    j["issuer"] = f.issuer_;
    j["not_after"] = f.not_after_;
    j["days_left"] = f.days_left_ ? json(*f.days_left_) : json(nullptr);
    j["verified"] = f.verified_;
    if (!f.verify_error_.empty()) j["verify_error"] = f.verify_error_;
  }
  void operator()(const binding_facts& f) const {
    j["server_address"] = f.server_.to_string();
    j["mapped_address"] = f.mapped_ ? json(f.mapped_->to_string()) : json(nullptr);
    put_address(j, "other_address", f.other_address_);
    put_address(j, "response_origin", f.response_origin_);
    if (!f.software_.empty()) j["software"] = f.software_;
    j.update(rtt_json(f.rtt_));
  }
  void operator()(const allocate_facts& f) const {
    j["relayed_address"] = f.relayed_ ? json(f.relayed_->to_string()) : json(nullptr);
    put_address(j, "mapped_address", f.mapped_);
    if (f.relayed_) j["lifetime_s"] = f.lifetime_s_;
    if (!f.realm_.empty()) j["realm"] = f.realm_;
    j["stale_nonce_retried"] = f.stale_nonce_retried_;
    put_address(j, "redirected_to", f.redirected_to_);
  }
  void operator()(const relay_facts& f) const {
    put_address(j, "peer_address", f.peer_);
    if (f.channel_ != 0) j["channel"] = f.channel_;
    j.update(rtt_json(f.rtt_));
  }
};

json failure_json(const failure& f) {
  return {{"kind", to_string(f.kind_)},
          {"code", f.code_ != 0 ? json(f.code_) : json(nullptr)},
          {"reason", f.reason_},
          {"hint", f.hint_}};
}

json check_json(const check& c) {
  json j = {{"name", to_string(c.stage_)}, {"ok", c.ok_}, {"ms", rounded(c.ms_)}};
  std::visit(facts_json{j}, c.facts_);
  if (!c.warnings_.empty()) j["warnings"] = c.warnings_;
  if (c.error_) j["error"] = failure_json(*c.error_);
  return j;
}

// The welcome's ICE servers without their credentials: a report may end up
// in a ticket or a log.
json ice_servers_json(const std::vector<ice_server>& servers) {
  json list = json::array();
  for (const auto& s : servers) {
    json e = {{"urls", s.urls_}};
    if (s.username_) e["username"] = *s.username_;
    list.push_back(std::move(e));
  }
  return list;
}

json signaling_json(const signaling_report& s) {
  json j = {{"url", s.url_}, {"ok", s.ok_}, {"ms", rounded(s.ms_)}};
  if (s.welcome_) {
    const auto& w = *s.welcome_;
    j["server"] = w.server_;
    j["peer"] = w.peer_;
    j["protocol"] = w.protocol_;
    j["features"] = w.features_;
    j["ice_servers"] = ice_servers_json(w.ice_servers_);
  }
  if (s.error_) j["error"] = failure_json(*s.error_);
  return j;
}

json nat_json(const nat_report& n) {
  const auto& o = n.observed_;
  json j = {{"ok", n.ok()},
            {"status", to_string(n.status_)},
            {"server", n.server_},
            {"ms", rounded(n.ms_)},
            {"behind_nat", n.behind_nat_ ? json(*n.behind_nat_) : json(nullptr)},
            {"mapping", to_string(n.mapping_)},
            {"filtering", to_string(n.filtering_)},
            {"hairpinning", to_string(n.hairpinning_)},
            {"verdict", n.verdict_}};
  put_address(j, "local_address", o.local_);
  put_address(j, "mapped_address", o.mapped_);
  put_address(j, "other_address", o.other_address_);
  put_address(j, "mapped_address_alt_ip", o.mapped_alt_ip_);
  put_address(j, "mapped_address_alt_ip_port", o.mapped_alt_ip_port_);
  if (n.status_ == nat_status::cannot_tell) {
    j["reason"] = n.reason_;
    j["hint"] = n.hint_;
  }
  if (n.error_) j["error"] = failure_json(*n.error_);
  return j;
}

// --- text -------------------------------------------------------------------------

std::string addresses_text(const std::vector<stun::address>& v) {
  std::string s;
  for (const auto& a : v) s += (s.empty() ? "" : ", ") + a.ip_string();
  return s;
}

struct facts_text {
  std::string operator()(const std::monostate&) const { return ""; }
  std::string operator()(const dns_facts& f) const {
    if (f.literal_) return addresses_text(f.ipv4_.empty() ? f.ipv6_ : f.ipv4_) + " (IP literal)";
    std::string s = "A " + (f.ipv4_.empty() ? std::string("none") : addresses_text(f.ipv4_)) + "; AAAA " +
                    (f.ipv6_.empty() ? std::string("none") : addresses_text(f.ipv6_));
    if (f.tried_.size() > 1 || (f.tried_.size() == 1 && f.tried_.front().outcome_ != "ok")) {
      s += "; tried";
      for (const auto& t : f.tried_) s += " " + t.address_.to_string() + " (" + t.outcome_ + ")";
    }
    return s;
  }
  std::string operator()(const connect_facts& f) const {
    return f.remote_.to_string() + " from " + f.local_.to_string();
  }
  std::string operator()(const tls_facts& f) const {
    if (f.version_.empty()) return f.sni_.empty() ? "" : "SNI " + f.sni_;
    std::string s = f.version_ + " " + f.cipher_ + ", " + f.subject_;
    if (!f.not_after_.empty()) {
      s += ", expires " + f.not_after_;
      if (f.days_left_) s += " (" + std::to_string(*f.days_left_) + (*f.days_left_ == 1 ? " day)" : " days)");
    }
    s += f.verified_ ? ", verified" : ", NOT verified";
    return s;
  }
  std::string operator()(const binding_facts& f) const {
    std::string s;
    if (f.mapped_) s = "mapped " + f.mapped_->to_string() + ", ";
    s += rtt_text(f.rtt_);
    if (f.other_address_) s += ", other address " + f.other_address_->to_string();
    return s;
  }
  std::string operator()(const allocate_facts& f) const {
    if (!f.relayed_) return f.realm_.empty() ? "" : "realm " + f.realm_;
    std::string s = "relayed " + f.relayed_->to_string();
    if (f.mapped_) s += ", mapped " + f.mapped_->to_string();
    s += ", lifetime " + std::to_string(f.lifetime_s_) + " s";
    if (!f.realm_.empty()) s += ", realm " + f.realm_;
    if (f.stale_nonce_retried_) s += ", retried after 438 Stale Nonce";
    return s;
  }
  std::string operator()(const relay_facts& f) const {
    std::string s;
    if (f.peer_) s = "peer " + f.peer_->to_string();
    if (f.channel_ != 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%04X", f.channel_);
      s += std::string(", channel ") + buf;
    }
    if (f.rtt_.sent_ > 0) s += ", " + rtt_text(f.rtt_);
    return s;
  }
};

std::string failure_text(const failure& f) {
  if (f.kind_ == failure_kind::stun_error) return std::to_string(f.code_) + " " + f.reason_;
  return f.reason_;
}

// "  ✓ name     details  [1.23 ms]", then warnings and the hint under it.
void write_line(std::ostream& out, std::string_view stage_name, bool ok, const std::optional<failure>& error,
                const std::string& details, double ms, const std::vector<std::string>& warnings) {
  std::string name(stage_name);
  name.resize(std::max<std::size_t>(9, name.size() + 1), ' ');
  std::string line = std::string("  ") + (ok ? "\u2713 " : "\u2717 ") + name;
  if (error) line += failure_text(*error) + (details.empty() ? "" : "; " + details);
  else line += details;
  out << line << "  [" << duration_text(ms) << "]\n";
  for (const auto& w : warnings) out << "             ! " << w << "\n";
  if (error && !error->hint_.empty()) out << "             hint: " << error->hint_ << "\n";
}

void write_check(std::ostream& out, const check& c) {
  std::string details = std::visit(facts_text{}, c.facts_);
  if (c.stage_ == stage::refresh && c.ok_) details = "allocation freed (LIFETIME 0)";
  write_line(out, to_string(c.stage_), c.ok_, c.error_, details, c.ms_, c.warnings_);
}

// "sigserve/0.1.0, peer Zq3k9TfA2mXw, 2 ICE servers (4 URIs), TURN username 1767225600:Zq3k9TfA2mXw"
std::string welcome_text(const welcome_facts& w) {
  std::string s = w.server_.empty() ? std::string("a welcome") : w.server_;
  if (!w.peer_.empty()) s += ", peer " + w.peer_;
  if (w.ice_servers_.empty()) return s;
  std::size_t uris = 0;
  std::vector<std::string> usernames;
  for (const auto& e : w.ice_servers_) {
    uris += e.urls_.size();
    if (e.username_ && std::find(usernames.begin(), usernames.end(), *e.username_) == usernames.end())
      usernames.push_back(*e.username_);
  }
  const auto n = w.ice_servers_.size();
  s += ", " + std::to_string(n) + (n == 1 ? " ICE server (" : " ICE servers (") + std::to_string(uris) +
       (uris == 1 ? " URI)" : " URIs)");
  for (std::size_t i = 0; i < usernames.size(); ++i) s += (i == 0 ? ", TURN username " : ", ") + usernames[i];
  return s;
}

void write_signaling(std::ostream& out, const signaling_report& s) {
  out << s.url_ << "\n";
  write_line(out, "welcome", s.ok_, s.error_, s.welcome_ ? welcome_text(*s.welcome_) : std::string(), s.ms_, {});
  out << "  " << (s.ok_ ? "ok" : "FAILED") << " in " << duration_text(s.ms_) << "\n\n";
}

std::string_view nat_mark(nat_status s) {
  switch (s) {
    case nat_status::determined: return "\u2713 ";
    case nat_status::cannot_tell: return "? ";
    case nat_status::failed: break;
  }
  return "\u2717 ";
}

}  // namespace

nlohmann::ordered_json to_json(const report& r) {
  json j = {{"ok", r.ok()}, {"ms", rounded(r.ms_)}};
  if (r.signaling_) j["signaling"] = signaling_json(*r.signaling_);
  j["servers"] = json::array();
  for (const auto& s : r.servers_) {
    json sj = {{"uri", s.uri_}, {"ok", s.ok()}, {"ms", rounded(s.ms_)}, {"checks", json::array()}};
    for (const auto& c : s.checks_) sj["checks"].push_back(check_json(c));
    j["servers"].push_back(std::move(sj));
  }
  if (r.nat_) j["nat"] = nat_json(*r.nat_);
  return j;
}

void write_text(std::ostream& out, const report& r) {
  if (r.signaling_) write_signaling(out, *r.signaling_);
  std::size_t passed = 0;
  for (const auto& s : r.servers_) {
    out << s.uri_ << "\n";
    for (const auto& c : s.checks_) write_check(out, c);
    out << "  " << (s.ok() ? "ok" : "FAILED") << " in " << duration_text(s.ms_) << "\n\n";
    if (s.ok()) ++passed;
  }
  if (r.nat_) {
    const auto& n = *r.nat_;
    const auto& o = n.observed_;
    out << "NAT behaviour (RFC 5780" << (n.server_.empty() ? "" : ", via " + n.server_) << ")\n";
    if (o.local_ && o.mapped_)
      out << "  local " << o.local_->to_string() << ", mapped " << o.mapped_->to_string() << "\n";
    out << "  mapping:     " << to_string(n.mapping_) << "\n";
    out << "  filtering:   " << to_string(n.filtering_) << "\n";
    out << "  hairpinning: " << to_string(n.hairpinning_)
        << (n.hairpinning_ == hairpinning::not_tested && n.behind_nat_ == false ? " (no NAT)" : "") << "\n";
    out << "  " << nat_mark(n.status_) << n.verdict_ << "\n";
    if (n.error_) {
      out << "  " << n.error_->reason_ << "\n";
      if (!n.error_->hint_.empty()) out << "  hint: " << n.error_->hint_ << "\n";
    }
    if (n.status_ == nat_status::cannot_tell && !n.hint_.empty()) out << "  hint: " << n.hint_ << "\n";
    out << "\n";
  }
  const bool signaling_failed = r.signaling_ && !r.signaling_->ok_;
  if (signaling_failed && r.servers_.empty()) {
    out << "no servers to probe: the ICE servers could not be fetched from " << r.signaling_->url_;
  } else {
    if (signaling_failed) out << "the ICE servers could not be fetched from " << r.signaling_->url_ << "; ";
    out << passed << " of " << r.servers_.size() << " server" << (r.servers_.size() == 1 ? "" : "s") << " passed";
  }
  if (r.nat_) {
    switch (r.nat_->status_) {
      case nat_status::determined: out << ", NAT behaviour determined"; break;
      case nat_status::cannot_tell: out << ", NAT behaviour: cannot tell (the server lacks RFC 5780)"; break;
      case nat_status::failed: out << ", NAT behaviour undetermined"; break;
    }
  }
  out << " in " << duration_text(r.ms_) << "\n";
}

}  // namespace sigkit::probe
