#include <cmath>
#include <fstream>
#include <sstream>

#include "sigkit/bench/scenario.hpp"
#include "sigkit/duration.hpp"

namespace sigkit::bench {
namespace {

using json = nlohmann::json;
using error = std::string;

// Numbers may come as JSON numbers (scenario files) or strings (flags).
std::optional<double> as_number(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    try {
      std::size_t used = 0;
      double d = std::stod(s, &used);
      if (used == s.size()) return d;
    } catch (const std::exception&) {
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> as_count(const json& v) {
  auto d = as_number(v);
  if (!d || *d < 0 || *d != static_cast<double>(static_cast<std::uint64_t>(*d))) return std::nullopt;
  return static_cast<std::uint64_t>(*d);
}

std::optional<nanoseconds> as_duration(const json& v) {
  if (v.is_number()) {
    double s = v.get<double>();
    if (s < 0) return std::nullopt;
    return nanoseconds(static_cast<std::int64_t>(s * 1e9));
  }
  if (v.is_string()) return parse_duration(v.get_ref<const std::string&>());
  return std::nullopt;
}

}  // namespace

result<std::vector<std::string>, std::string> parse_address_list(std::string_view text) {
  auto parse_v4 = [](std::string_view s) -> std::optional<std::uint32_t> {
    std::uint32_t out = 0;
    int parts = 0;
    std::size_t pos = 0;
    while (pos <= s.size() && parts < 4) {
      auto dot = s.find('.', pos);
      auto part = s.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
      if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != std::string_view::npos)
        return std::nullopt;
      int v = std::stoi(std::string(part));
      if (v > 255) return std::nullopt;
      out = (out << 8) | static_cast<std::uint32_t>(v);
      ++parts;
      if (dot == std::string_view::npos) break;
      pos = dot + 1;
    }
    if (parts != 4 || s.find('.', pos) != std::string_view::npos) return std::nullopt;
    return out;
  };
  auto format_v4 = [](std::uint32_t a) {
    return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
           std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
  };
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos);
    if (auto dash = item.find('-'); dash != std::string_view::npos) {
      auto first = parse_v4(item.substr(0, dash)), last = parse_v4(item.substr(dash + 1));
      if (!first || !last || *last < *first || *last - *first > 65535)
        return "bad address range '" + std::string(item) + "' (expected e.g. 127.0.0.2-127.0.0.9)";
      for (auto a = *first; a <= *last; ++a) out.push_back(format_v4(a));
    } else if (!item.empty()) {
      if (!parse_v4(item) && item.find(':') == std::string_view::npos)
        return "bad source address '" + std::string(item) + "'";
      out.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  if (out.empty()) return std::string("no source addresses given");
  return out;
}

result<scenario, std::string> scenario_from_json(const json& object, scenario s) {
  if (!object.is_object()) return error("a scenario must be a JSON object");
  for (const auto& item : object.items()) {
    // Named references, not a structured binding: clang 14 cannot capture one.
    const std::string& key = item.key();
    const json& value = item.value();
    auto bad = [&](std::string_view expected) {
      return error("scenario: \"" + key + "\" must be " + std::string(expected) + ", got " + value.dump());
    };
    if (key == "name" || key == "description") {
      if (!value.is_string()) return bad("a string");
      if (key == "name") s.name = value.get<std::string>();
    } else if (key == "url") {
      // One URL, or several instances of one service.
      if (value.is_string()) {
        s.url = value.get<std::string>();
        s.more_urls.clear();
      } else if (value.is_array() && !value.empty() &&
                 std::all_of(value.begin(), value.end(), [](const json& u) { return u.is_string(); })) {
        s.url = value[0].get<std::string>();
        s.more_urls.clear();
        for (std::size_t i = 1; i < value.size(); ++i) s.more_urls.push_back(value[i].get<std::string>());
      } else {
        return bad("a URL or an array of URLs");
      }
    } else if (key == "dialect") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty())
        return bad("a dialect name (sigkit, socketio-codelab) or the path of a dialect file");
      s.dialect = value.get<std::string>();
    } else if (key == "segment") {
      if (!value.is_string()) return bad("a string like \"0/4\"");
      auto seg = parse_segment(value.get_ref<const std::string&>());
      if (!seg) return error("scenario: " + seg.error());
      s.slice = seg.value();
    } else if (key == "find-capacity") {
      if (!value.is_string()) return bad("a threshold expression like \"join.p99<50ms\"");
      auto t = parse_threshold(value.get<std::string>());
      if (!t) return error(t.error().message);
      s.find_capacity = std::move(t.value());
    } else if (key == "rate-start" || key == "rate-step") {
      auto n = as_number(value);
      if (!n || !(*n > 0) || !std::isfinite(*n)) return bad("a positive number of arrivals per second");
      if (key == "rate-start") s.rate_start = *n;
      else s.rate_step = *n;
    } else if (key == "origin" || key == "ca-file") {
      if (!value.is_string()) return bad("a string");
      (key == "origin" ? s.origin : s.ca_file) = value.get<std::string>();
    } else if (key == "insecure") {
      if (!value.is_boolean()) return bad("true or false");
      s.insecure = value.get<bool>();
    } else if (key == "peers") {
      auto n = as_count(value);
      if (!n || *n == 0) return bad("a positive whole number");
      s.peers = *n;
    } else if (key == "rate") {
      auto n = as_number(value);
      if (!n || *n < 0) return bad("a number of peers per second (0 for the closed model)");
      s.rate = *n;
    } else if (key == "concurrency" || key == "room-size" || key == "candidates" || key == "sdp-bytes" ||
               key == "threads") {
      auto n = as_count(value);
      if (!n) return bad("a whole number");
      if (key == "concurrency") s.concurrency = *n;
      if (key == "room-size") s.room_size = *n;
      if (key == "candidates") s.candidates = *n;
      if (key == "sdp-bytes") s.sdp_bytes = *n;
      if (key == "threads") {
        if (*n > max_threads) return bad("a whole number of threads up to " + std::to_string(max_threads));
        s.threads = static_cast<unsigned>(*n);
      }
    } else if (key == "duration" || key == "ramp-up" || key == "hold" || key == "connect-timeout" ||
               key == "negotiation-timeout" || key == "late-bound") {
      auto d = as_duration(value);
      if (!d) return bad("a duration like \"30s\" or \"250ms\"");
      if (key == "duration") s.duration = *d;
      if (key == "ramp-up") s.ramp_up = *d;
      if (key == "hold") s.hold = *d;
      if (key == "connect-timeout") s.connect_timeout = *d;
      if (key == "negotiation-timeout") s.negotiation_timeout = *d;
      if (key == "late-bound") s.late_bound = *d;
    } else if (key == "leave") {
      auto mode = value.is_string() ? value.get<std::string>() : "";
      if (mode == "leave") s.leave = leave_mode::leave;
      else if (mode == "bye") s.leave = leave_mode::bye;
      else if (mode == "close") s.leave = leave_mode::close;
      else return bad("\"leave\", \"bye\" or \"close\"");
    } else if (key == "source-addresses") {
      std::string text;
      if (value.is_string()) text = value.get<std::string>();
      else if (value.is_array())
        for (const auto& a : value) text += (text.empty() ? "" : ",") + (a.is_string() ? a.get<std::string>() : "?");
      else return bad("a string or a list of strings");
      auto list = parse_address_list(text);
      if (!list) return error("scenario: " + list.error());
      s.source_addresses = std::move(list.value());
    } else if (key == "thresholds") {
      if (!value.is_array()) return bad("a list of expressions");
      s.thresholds.clear();
      for (const auto& expr : value) {
        if (!expr.is_string()) return bad("a list of strings");
        auto t = parse_threshold(expr.get<std::string>());
        if (!t) return error(t.error().message);
        s.thresholds.push_back(std::move(t.value()));
      }
    } else {
      return error("scenario: unknown setting \"" + key + "\"");
    }
  }
  if (s.room_size < 1) return error("room-size must be at least 1");
  if (s.rate == 0 && s.concurrency < s.room_size)
    return error("concurrency (" + std::to_string(s.concurrency) + ") must be at least room-size (" +
                 std::to_string(s.room_size) + ") or no room could ever fill");
  if (!s.peers && !s.duration) s.peers = 200;
  if (s.peers && *s.peers % s.room_size != 0)
    return error("peers (" + std::to_string(*s.peers) + ") must be a multiple of room-size (" +
                 std::to_string(s.room_size) + "): a partial room could never negotiate");
  return s;
}

result<scenario, std::string> load_scenario_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("cannot read scenario file " + path);
  std::stringstream text;
  text << in.rdbuf();
  auto object = json::parse(text.str(), nullptr, false, /*ignore_comments=*/true);
  if (object.is_discarded()) return error("scenario file " + path + " is not valid JSON");
  scenario base;
  auto slash = path.find_last_of('/');
  base.name = path.substr(slash == std::string::npos ? 0 : slash + 1);
  if (auto dot = base.name.rfind(".json"); dot != std::string::npos) base.name.resize(dot);
  return scenario_from_json(object, std::move(base));
}

}  // namespace sigkit::bench
