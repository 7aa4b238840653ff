// What the three command-line tools share: duration options and the rule
// that a usage error is one line on stderr and exit code 2.
#pragma once

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>

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

// For option text already checked by duration_text.
template <class D>
D duration_of(const std::string& text) {
  return std::chrono::duration_cast<D>(*parse_duration(text));
}

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
