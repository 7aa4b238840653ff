// sigprobe's output: text for people, JSON for scripts (docs/sigprobe.md).
#include "sigkit/probe/output.hpp"

#include <cmath>
#include <cstdio>
#include <string>

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

json nat_json(const nat_report& n) {
  const auto& o = n.observed_;
  json j = {{"ok", n.ok_},
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

void write_check(std::ostream& out, const check& c) {
  std::string name(to_string(c.stage_));
  name.resize(9, ' ');
  std::string details = std::visit(facts_text{}, c.facts_);
  if (c.stage_ == stage::refresh && c.ok_) details = "allocation freed (LIFETIME 0)";
  std::string line = std::string("  ") + (c.ok_ ? "\u2713 " : "\u2717 ") + name;
  if (c.error_) line += failure_text(*c.error_) + (details.empty() ? "" : "; " + details);
  else line += details;
  out << line << "  [" << duration_text(c.ms_) << "]\n";
  for (const auto& w : c.warnings_) out << "             ! " << w << "\n";
  if (c.error_ && !c.error_->hint_.empty()) out << "             hint: " << c.error_->hint_ << "\n";
}

}  // namespace

nlohmann::ordered_json to_json(const report& r) {
  json j = {{"ok", r.ok()}, {"ms", rounded(r.ms_)}, {"servers", json::array()}};
  for (const auto& s : r.servers_) {
    json sj = {{"uri", s.uri_}, {"ok", s.ok()}, {"ms", rounded(s.ms_)}, {"checks", json::array()}};
    for (const auto& c : s.checks_) sj["checks"].push_back(check_json(c));
    j["servers"].push_back(std::move(sj));
  }
  if (r.nat_) j["nat"] = nat_json(*r.nat_);
  return j;
}

void write_text(std::ostream& out, const report& r) {
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
    out << "  " << (n.ok_ ? "\u2713 " : "\u2717 ") << n.verdict_ << "\n";
    if (n.error_) {
      out << "  " << n.error_->reason_ << "\n";
      if (!n.error_->hint_.empty()) out << "  hint: " << n.error_->hint_ << "\n";
    }
    out << "\n";
  }
  out << passed << " of " << r.servers_.size() << " server" << (r.servers_.size() == 1 ? "" : "s") << " passed";
  if (r.nat_) out << (r.nat_->ok_ ? ", NAT behaviour determined" : ", NAT behaviour undetermined");
  out << " in " << duration_text(r.ms_) << "\n";
}

}  // namespace sigkit::probe
