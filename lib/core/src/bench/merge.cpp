#include "sigkit/bench/merge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <stdexcept>

namespace sigkit::bench {

namespace {

std::string utc_text(double epoch_s) {
  const auto t = static_cast<std::time_t>(std::floor(epoch_s));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "a" if every part says "a", else "a, b, c" (each once, in order).
template <class Field>
std::string joined_names(const std::vector<report>& parts, Field field) {
  std::vector<std::string> seen;
  for (const auto& p : parts)
    if (std::find(seen.begin(), seen.end(), field(p)) == seen.end()) seen.push_back(field(p));
  std::string out;
  for (const auto& s : seen) out += (out.empty() ? "" : ", ") + s;
  return out;
}

constexpr std::string_view default_suffix = " (default)";

}  // namespace

std::optional<double> parse_utc_time(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0;
  double second = 0;
  char t = 0;
  int used = 0;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%lf%n", &year, &month, &day, &t, &hour, &minute, &second, &used) != 7)
    return std::nullopt;
  if ((t != 'T' && t != ' ') || static_cast<std::size_t>(used) + 1 != s.size() || s.back() != 'Z') return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second < 0 || second >= 61)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  return static_cast<double>(timegm(&tm)) + second;
}

std::vector<std::string> threshold_exprs(const std::vector<report>& parts) {
  std::vector<std::string> out;
  for (const auto& p : parts)
    for (const auto& v : p.verdicts) {
      if (v.expr.ends_with(default_suffix)) continue;
      if (std::find(out.begin(), out.end(), v.expr) == out.end()) out.push_back(v.expr);
    }
  return out;
}

result<report, std::string> merge_reports(const std::vector<report>& parts) {
  if (parts.empty()) return std::string("nothing to merge");
  std::vector<double> starts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto start = parse_utc_time(parts[i].started_at);
    if (!start)
      return "report " + std::to_string(i + 1) + " has no usable started_at ('" + parts[i].started_at + "')";
    starts.push_back(*start);
  }
  const double first_start = *std::min_element(starts.begin(), starts.end());

  report out;
  out.target = joined_names(parts, [](const report& r) { return r.target; });
  out.scenario = joined_names(parts, [](const report& r) { return r.scenario; });
  out.started_at = utc_text(first_start);

  double last_end = first_start, last_join = first_start;
  double bytes_weighted = 0, bytes_weight = 0;
  std::map<long long, timeline_point> seconds;  // by whole second since first_start
  std::vector<std::string> aborted;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const report& p = parts[i];
    const double offset = starts[i] - first_start;
    last_end = std::max(last_end, starts[i] + p.duration_s);
    if (p.join_rate > 0 && p.joined > 0) last_join = std::max(last_join, starts[i] + static_cast<double>(p.joined) / p.join_rate);

    out.planned += p.planned;
    out.connected += p.connected;
    out.joined += p.joined;
    out.failed += p.failed;
    out.sent += p.sent;
    out.received += p.received;
    out.lost += p.lost;
    out.duplicated += p.duplicated;
    out.misrouted += p.misrouted;
    for (const auto& [code, n] : p.errors) out.errors[code] += n;
    for (const auto& [why, n] : p.failures) out.failures[why] += n;

    for (const auto& [name, h] : p.latency) {
      auto [it, fresh] = out.latency.try_emplace(name, h.range());
      try {
        it->second.merge(h);
      } catch (const std::invalid_argument&) {
        return "report " + std::to_string(i + 1) + ": its " + name + " histogram has another range than the others";
      }
    }
    if (i == 0) out.connect_uncorrected = metrics::latency_histogram(p.connect_uncorrected.range());
    try {
      out.connect_uncorrected.merge(p.connect_uncorrected);
    } catch (const std::invalid_argument&) {
      return "report " + std::to_string(i + 1) + ": its connect_uncorrected histogram has another range than the others";
    }

    out.threads += p.threads;
    out.late_starts += p.late_starts;
    out.worst_lag_ms = std::max(out.worst_lag_ms, p.worst_lag_ms);
    out.peak_rss_bytes += p.peak_rss_bytes;       // each generator's own memory, together
    out.peak_connections += p.peak_connections;   // an upper bound: the peaks need not coincide
    if (p.bytes_per_peer) {
      bytes_weighted += *p.bytes_per_peer * static_cast<double>(p.peak_connections);
      bytes_weight += static_cast<double>(p.peak_connections);
    }
    out.saturated = out.saturated || p.saturated;
    if (p.aborted) aborted.push_back("report " + std::to_string(i + 1) + " (" + p.target + "): " + *p.aborted);

    for (const auto& point : p.timeline) {
      const double t = point.t_s + offset;
      const auto second = static_cast<long long>(std::llround(t));
      auto& slot = seconds[second];
      slot.t_s = static_cast<double>(second);
      slot.joins_per_s += point.joins_per_s;
      slot.messages_per_s += point.messages_per_s;
      slot.connected += point.connected;
    }
  }
  out.duration_s = last_end - first_start;
  const double join_span = last_join - first_start;
  out.join_rate = join_span > 0 ? static_cast<double>(out.joined) / join_span : 0;
  out.message_rate = out.duration_s > 0 ? static_cast<double>(out.received) / out.duration_s : 0;
  if (bytes_weight > 0) out.bytes_per_peer = bytes_weighted / bytes_weight;
  for (auto& [second, point] : seconds) out.timeline.push_back(point);
  if (!aborted.empty()) {
    std::string why;
    for (const auto& a : aborted) why += (why.empty() ? "" : "; ") + a;
    out.aborted = why;
  }
  return out;
}

}  // namespace sigkit::bench
