// The JSON report's histograms, and the report read back from its JSON (for
// `sigbench merge` and `--baseline`).
#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>

#include "sigkit/bench/report.hpp"

#include "report_parts.hpp"
#include "sigkit/metrics/hdr_encoding.hpp"

namespace sigkit::bench {
namespace {

using json = nlohmann::json;
using wide_sum = metrics::latency_histogram::wide_sum;

constexpr const char* uncorrected_name = "connect_uncorrected";

// The exact sum as a JSON number when it fits 64 bits (always, in practice:
// 5 million samples of an hour each), else as decimal text.
json sum_json(wide_sum sum) {
  if (sum <= std::numeric_limits<std::uint64_t>::max()) return static_cast<std::uint64_t>(sum);
  std::string digits;
  for (; sum > 0; sum /= 10) digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(sum % 10)));
  return digits;
}

std::optional<wide_sum> sum_from(const json& v) {
  if (v.is_number_unsigned()) return static_cast<wide_sum>(v.get<std::uint64_t>());
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<wide_sum>(v.get<std::int64_t>());
  if (!v.is_string()) return std::nullopt;
  const auto& text = v.get_ref<const std::string&>();
  if (text.empty() || text.size() > 38) return std::nullopt;
  wide_sum sum = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    sum = sum * 10 + static_cast<wide_sum>(c - '0');
  }
  return sum;
}

std::optional<std::uint64_t> whole_from(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return std::nullopt;
}

json histogram_json(const metrics::latency_histogram& h) {
  const auto exact = h.exact();
  return {{"hdr", metrics::encode_hdr_base64(h)},
          {"count", h.count()},
          {"min", exact.min},
          {"max", exact.max},
          {"sum", sum_json(exact.sum)},
          {"saturated", exact.saturated}};
}

using error = std::string;

result<metrics::latency_histogram, error> histogram_from(const json& j, const std::string& name) {
  const std::string where = "histograms." + name;
  if (!j.is_object() || !j.contains("hdr") || !j["hdr"].is_string())
    return error(where + ": expected an object with an \"hdr\" string");
  auto decoded = metrics::decode_hdr_base64(j["hdr"].get<std::string>());
  if (!decoded) return error(where + ": " + decoded.error());
  metrics::latency_histogram h = std::move(decoded.value());
  // The exact figures, when present, put back what the slots cannot hold.
  if (j.contains("min") && j.contains("max") && j.contains("sum")) {
    metrics::latency_histogram::exact_figures f;
    const auto sum = sum_from(j["sum"]);
    const auto min = whole_from(j["min"]), max = whole_from(j["max"]);
    if (!min || !max || !sum) return error(where + ": min, max and sum must be whole numbers of nanoseconds");
    f.min = *min;
    f.max = *max;
    f.sum = *sum;
    if (j.contains("saturated")) {
      const auto saturated = whole_from(j["saturated"]);
      if (!saturated) return error(where + ": saturated must be a whole number");
      f.saturated = *saturated;
    }
    if (!h.restore_exact(f)) return error(where + ": min, max, sum or saturated contradict the encoded counts");
  }
  if (j.contains("count") && j["count"] != h.count())
    return error(where + ": \"count\" says " + j["count"].dump() + " but the encoding holds " + std::to_string(h.count()));
  return h;
}

// Reads `key` of `object` into `out` when present and of the right type;
// names the problem otherwise.
template <class T>
std::optional<error> read(const json& object, const char* key, T& out, const char* where) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return std::nullopt;
  try {
    out = object[key].get<T>();
  } catch (const json::exception&) {
    return error(std::string(where) + key + ": unexpected " + object[key].type_name());
  }
  return std::nullopt;
}

metric_kind kind_of_unit(const std::string& unit) {
  if (unit == "ms") return metric_kind::latency;
  if (unit == "/s") return metric_kind::rate;
  return metric_kind::count;
}

}  // namespace

json histograms_to_json(const report& r) {
  json out = {{"unit", "ns"}, {"encoding", "HdrHistogram V2 compressed, base64"}};
  for (auto name : latency_names)
    if (auto it = r.latency.find(name); it != r.latency.end()) out[name] = histogram_json(it->second);
  out[uncorrected_name] = histogram_json(r.connect_uncorrected);
  return out;
}

result<report, std::string> report_from_json(const json& j) {
  if (!j.is_object()) return error("a report must be a JSON object");
  if (!j.contains("histograms"))
    return error("the report has no \"histograms\" (written by a sigbench without HdrHistogram encodings?)");
  report r;
  std::optional<error> problem;
  auto check = [&](std::optional<error> e) {
    if (e && !problem) problem = std::move(e);
  };
  check(read(j, "target", r.target, ""));
  check(read(j, "scenario", r.scenario, ""));
  check(read(j, "started_at", r.started_at, ""));
  check(read(j, "duration_s", r.duration_s, ""));
  if (j.contains("peers")) {
    const json& p = j["peers"];
    check(read(p, "planned", r.planned, "peers."));
    check(read(p, "connected", r.connected, "peers."));
    check(read(p, "joined", r.joined, "peers."));
    check(read(p, "failed", r.failed, "peers."));
  }
  if (j.contains("messages")) {
    const json& m = j["messages"];
    check(read(m, "sent", r.sent, "messages."));
    check(read(m, "received", r.received, "messages."));
    check(read(m, "lost", r.lost, "messages."));
    check(read(m, "duplicated", r.duplicated, "messages."));
    check(read(m, "misrouted", r.misrouted, "messages."));
  }
  check(read(j, "errors", r.errors, ""));
  check(read(j, "failures", r.failures, ""));
  if (j.contains("throughput")) {
    check(read(j["throughput"], "join_rate", r.join_rate, "throughput."));
    check(read(j["throughput"], "message_rate", r.message_rate, "throughput."));
  }
  if (j.contains("generator")) {
    const json& g = j["generator"];
    check(read(g, "threads", r.threads, "generator."));
    check(read(g, "late_starts", r.late_starts, "generator."));
    check(read(g, "worst_lag_ms", r.worst_lag_ms, "generator."));
    check(read(g, "peak_rss_bytes", r.peak_rss_bytes, "generator."));
    check(read(g, "peak_connections", r.peak_connections, "generator."));
    check(read(g, "saturated", r.saturated, "generator."));
    if (g.is_object() && g.contains("bytes_per_peer") && g["bytes_per_peer"].is_number())
      r.bytes_per_peer = g["bytes_per_peer"].get<double>();
  }
  if (j.contains("aborted") && j["aborted"].is_string()) r.aborted = j["aborted"].get<std::string>();
  if (j.contains("timeline") && j["timeline"].is_array())
    for (const auto& p : j["timeline"]) {
      timeline_point point{};
      check(read(p, "t_s", point.t_s, "timeline[]."));
      check(read(p, "joins_per_s", point.joins_per_s, "timeline[]."));
      check(read(p, "messages_per_s", point.messages_per_s, "timeline[]."));
      check(read(p, "connected", point.connected, "timeline[]."));
      r.timeline.push_back(point);
    }
  if (j.contains("thresholds") && j["thresholds"].is_array())
    for (const auto& t : j["thresholds"]) {
      threshold_verdict v{};
      check(read(t, "expr", v.expr, "thresholds[]."));
      check(read(t, "ok", v.ok, "thresholds[]."));
      if (t.is_object() && t.contains("value") && t["value"].is_number()) v.observed = t["value"].get<double>();
      std::string unit;
      check(read(t, "unit", unit, "thresholds[]."));
      check(read(t, "relative_to", v.relative_to, "thresholds[]."));
      v.kind = kind_of_unit(unit);
      if (t.is_object() && t.contains("count") && t["count"].is_number()) v.count = t["count"].get<double>();
      if (t.is_object() && t.contains("of") && t["of"].is_number()) v.of = t["of"].get<double>();
      r.verdicts.push_back(std::move(v));
    }
  if (problem) return error("report: " + *problem);

  const json& hs = j["histograms"];
  if (!hs.is_object()) return error("report: \"histograms\" must be an object");
  if (hs.contains("unit") && hs["unit"] != "ns")
    return error("report: histograms in " + hs["unit"].dump() + " (sigbench writes nanoseconds)");
  for (auto name : latency_names) {
    if (!hs.contains(name)) continue;
    auto h = histogram_from(hs[name], name);
    if (!h) return error("report: " + h.error());
    r.latency.emplace(name, std::move(h.value()));
  }
  if (hs.contains(uncorrected_name)) {
    auto h = histogram_from(hs[uncorrected_name], uncorrected_name);
    if (!h) return error("report: " + h.error());
    r.connect_uncorrected = std::move(h.value());
  }
  return r;
}

result<report, std::string> load_report_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return error("cannot read report " + path);
  std::stringstream text;
  text << in.rdbuf();
  const json j = json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return error(path + " is not valid JSON");
  auto r = report_from_json(j);
  if (!r) return error(path + ": " + r.error());
  return r;
}

}  // namespace sigkit::bench
