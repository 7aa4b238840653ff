#include "sigkit/cluster/envelope.hpp"

#include <nlohmann/json.hpp>

namespace sigkit::cluster {

using json = nlohmann::json;

std::string encode(const envelope& e) {
  json header = {{"k", std::string(1, static_cast<char>(e.what))}, {"i", e.from}, {"s", e.seq}, {"t", e.sent_us}};
  if (!e.room.empty()) header["r"] = e.room;
  if (!e.peer.empty()) header["p"] = e.peer;
  if (!e.user.empty()) header["u"] = e.user;
  if (e.join_us != 0) header["j"] = e.join_us;
  if (!e.receivers.empty()) header["to"] = e.receivers;
  if (e.directed) header["d"] = true;
  if (!e.rid.empty()) header["q"] = e.rid;
  // Users come from tokens and may hold anything: never let them throw.
  std::string out = header.dump(-1, ' ', false, json::error_handler_t::replace);
  out += '\n';
  if (e.what != envelope::kind::roster) {
    out += e.frame;
    return out;
  }
  json body = json::array();
  for (const auto& m : e.roster) {
    body.push_back(m.peer);
    body.push_back(m.instance + '\n' + m.user);
  }
  out += body.dump(-1, ' ', false, json::error_handler_t::replace);
  return out;
}

namespace {

// "peer", "instance\nuser", ...; nullopt when it is not that.
std::optional<std::vector<envelope::roster_entry>> decode_roster(std::string_view body) {
  auto list = json::parse(body, nullptr, false);
  // Lua's cjson writes an empty table as an object.
  if (list.is_object() && list.empty()) return std::vector<envelope::roster_entry>{};
  if (!list.is_array() || list.size() % 2 != 0) return std::nullopt;
  std::vector<envelope::roster_entry> out;
  for (std::size_t i = 0; i < list.size(); i += 2) {
    if (!list[i].is_string() || !list[i + 1].is_string()) return std::nullopt;
    const auto& info = list[i + 1].get_ref<const std::string&>();
    auto nl = info.find('\n');
    if (nl == std::string::npos || list[i].get_ref<const std::string&>().empty()) return std::nullopt;
    out.push_back({list[i].get<std::string>(), info.substr(0, nl), info.substr(nl + 1)});
  }
  return out;
}

}  // namespace

std::optional<envelope> decode(std::string_view bytes) {
  auto newline = bytes.find('\n');
  if (newline == std::string_view::npos) return std::nullopt;
  auto header = json::parse(bytes.substr(0, newline), nullptr, false);
  if (!header.is_object()) return std::nullopt;
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto it = header.find(key);
    if (it == header.end()) return std::string();
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto kind = text("k"), from = text("i"), room = text("r"), peer = text("p"), user = text("u"), rid = text("q");
  if (!kind || !from || !room || !peer || !user || !rid || kind->size() != 1 || from->empty()) return std::nullopt;
  envelope e;
  switch ((*kind)[0]) {
    case 'J': e.what = envelope::kind::joined; break;
    case 'L': e.what = envelope::kind::left; break;
    case 'R': e.what = envelope::kind::relay; break;
    case 'B': e.what = envelope::kind::bounce; break;
    case 'P': e.what = envelope::kind::probe; break;
    case 'S': e.what = envelope::kind::roster; break;
    case 'Y': e.what = envelope::kind::resync; break;
    default: return std::nullopt;
  }
  auto seq = header.find("s"), sent = header.find("t");
  if (seq == header.end() || !seq->is_number_unsigned() || sent == header.end() || !sent->is_number_integer())
    return std::nullopt;
  e.from = std::move(*from);
  e.seq = seq->get<std::uint64_t>();
  e.sent_us = sent->get<std::int64_t>();
  e.room = std::move(*room);
  e.peer = std::move(*peer);
  e.user = std::move(*user);
  e.rid = std::move(*rid);
  if (auto d = header.find("d"); d != header.end()) {
    if (!d->is_boolean()) return std::nullopt;
    e.directed = d->get<bool>();
  }
  if (auto j = header.find("j"); j != header.end()) {
    if (!j->is_number_integer()) return std::nullopt;
    e.join_us = j->get<std::int64_t>();
  }
  if (auto to = header.find("to"); to != header.end()) {
    if (!to->is_array()) return std::nullopt;
    for (const auto& r : *to) {
      if (!r.is_string()) return std::nullopt;
      e.receivers.push_back(r.get<std::string>());
    }
  }
  if ((e.what == envelope::kind::joined || e.what == envelope::kind::left) && (e.room.empty() || e.peer.empty()))
    return std::nullopt;
  if ((e.what == envelope::kind::relay || e.what == envelope::kind::bounce) && (e.room.empty() || e.receivers.empty()))
    return std::nullopt;
  if (e.what == envelope::kind::roster) {
    auto members = decode_roster(bytes.substr(newline + 1));
    if (e.room.empty() || !members) return std::nullopt;
    e.roster = std::move(*members);
    return e;
  }
  e.frame = std::string(bytes.substr(newline + 1));
  return e;
}

std::uint64_t sequence_tracker::observe(const std::string& sender, std::uint64_t seq) {
  auto [it, first] = last_.try_emplace(sender, 0);
  // The first envelope heard from a sender starts its count, wherever it is:
  // this instance may have started after it.
  if (first) {
    it->second = seq;
    return 0;
  }
  if (seq <= it->second) return 0;
  auto missing = seq - it->second - 1;
  it->second = seq;
  return missing;
}

}  // namespace sigkit::cluster
