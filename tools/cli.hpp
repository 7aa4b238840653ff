// What the three command-line tools share: number and duration options with
// explicit ranges, and the rule that a usage error is one line on stderr and
// exit code 2.
#pragma once

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

#include "sigkit/duration.hpp"

namespace sigkit::cli {

inline constexpr int exit_usage = 2;

// Accepts "25s", "500ms", "2m"; a bare number is seconds.
inline const CLI::Validator duration_text(
    [](std::string& text) -> std::string {
      return parse_duration(text) ? "" : "expected a duration like 25s, 500ms or 2m, got '" + text + "'";
    },
    "DURATION");

// For option text already checked by duration_text or duration_in.
template <class D>
D duration_of(const std::string& text) {
  return std::chrono::duration_cast<D>(*parse_duration(text));
}

// An exact spelling of a duration for help text and messages: 25000ms is
// "25s", 60000ms "60s" (minutes would hide the seconds people think in),
// 1500ms "1500ms", zero "0".
inline std::string duration_name(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d.count() == 0) return "0";
  struct unit {
    nanoseconds size;
    const char* suffix;
  };
  for (auto [size, suffix] : {unit{hours(1), "h"}, unit{seconds(1), "s"},
                              unit{milliseconds(1), "ms"}, unit{microseconds(1), "us"}}) {
    if (d % size == nanoseconds::zero()) return std::to_string(d / size) + suffix;
  }
  return std::to_string(d.count()) + "ns";
}

// A duration from `lo` to `hi`. Sub-millisecond values below `lo` are refused
// rather than rounded to zero when the caller keeps milliseconds.
inline CLI::Validator duration_in(std::chrono::nanoseconds lo, std::chrono::nanoseconds hi) {
  auto range = duration_name(lo) + " to " + duration_name(hi);
  auto label = "DURATION " + duration_name(lo) + ".." + duration_name(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        if (!text.empty() && text.front() == '-') return "must not be negative, got '" + text + "'";
        auto d = parse_duration(text);
        if (!d) return "expected a duration like 25s, 500ms or 2m, got '" + text + "'";
        if (*d < lo || *d > hi) return "expected a duration from " + range + ", got '" + text + "'";
        return "";
      },
      label);
}

// A whole number from `lo` to `hi` in plain decimal. CLI11 reads integers
// with strtoull in base 0, so "-1" would wrap to 2^64-1, "010" would be octal
// 8 and "0x10" 16: this refuses any sign, prefix or leading zero. (It cannot
// rewrite the text instead: CLI11's check() runs validators on a copy.)
inline CLI::Validator whole_number(std::uint64_t lo, std::uint64_t hi) {
  auto range = std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        auto expected = "expected a whole number from " + range + ", got '" + text + "'";
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) return expected;
        if (text.size() > 1 && text.front() == '0') return expected + " (no leading zeros)";
        std::uint64_t value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (ec != std::errc() || value < lo || value > hi) return expected;
        return "";
      },
      std::to_string(lo) + ".." + std::to_string(hi));
}

// A finite number from `lo` to `hi` ("2.5", "1e3"); NaN, infinities and hex
// floats are refused.
inline CLI::Validator real_number(double lo, double hi) {
  auto name = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return std::string(buf);
  };
  auto range = name(lo) + " to " + name(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& text) -> std::string {
        double value = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
            value < lo || value > hi)
          return "expected a number from " + range + ", got '" + text + "'";
        return "";
      },
      name(lo) + ".." + name(hi));
}

inline const CLI::Validator non_empty(
    [](std::string& text) -> std::string { return text.empty() ? "must not be empty" : ""; }, "");

inline int usage_error(const char* tool, const std::string& what) {
  std::fprintf(stderr, "%s: %s (see %s --help)\n", tool, what.c_str(), tool);
  return exit_usage;
}

// Parses the command line; returns the exit code when the tool should stop
// now (0 after --help or --version, exit_usage after a bad flag).
inline std::optional<int> parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usage_error(app.get_name().c_str(), e.what());
  }
  return std::nullopt;
}

}  // namespace sigkit::cli
