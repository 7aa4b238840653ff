// Where a sigbench report goes (text on stdout, and the files the flags name)
// and what its verdict makes of the exit code: shared by a run and by
// `sigbench merge`.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "sigkit/bench/baseline.hpp"
#include "sigkit/bench/junit.hpp"
#include "sigkit/bench/report.hpp"
#include "sigkit/bench/summary.hpp"
#include "sigkit/bench/verdict.hpp"

namespace sigbench {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_aborted = 3;
constexpr int exit_saturated = 4;

inline int exit_code(const sigkit::bench::run_verdict& v) {
  switch (v.result) {
    case sigkit::bench::outcome::passed: return exit_ok;
    case sigkit::bench::outcome::failed: return exit_failed;
    case sigkit::bench::outcome::aborted: return exit_aborted;
    case sigkit::bench::outcome::saturated: return exit_saturated;
  }
  return exit_failed;
}

struct outputs {
  std::string json, html, hgrm_dir, junit, summary_md;
  std::string baseline;                     // --baseline OLD.json
  std::vector<std::string> max_regression;  // --max-regression 10% | join.p99=20%
  std::optional<sigkit::bench::report> baseline_report;
  sigkit::bench::regression_policy policy;

  void add_options(CLI::App& app) {
    app.add_option("--json", json, "Write the report as JSON (histograms included, for merge and --baseline)");
    app.add_option("--html", html, "Write a self-contained HTML report with charts");
    app.add_option("--hgrm-dir", hgrm_dir, "Write HdrHistogram percentile-distribution files here");
    app.add_option("--junit", junit, "Write JUnit XML: each threshold a test case");
    app.add_option("--summary-md", summary_md,
                   "Write a Markdown summary (appended to $GITHUB_STEP_SUMMARY when that is set and this is not)");
    app.add_option("--baseline", baseline, "A stored JSON report: fail when p99s or rates regressed against it")
        ->check(CLI::ExistingFile);
    app.add_option("--max-regression", max_regression,
                   "With --baseline: 10% for every metric, or join.p99=20% for one (repeatable; default 10%)");
  }

  // Everything that can be refused before a run starts: a file that could
  // not be written, a baseline that cannot be read. An error is one line.
  std::optional<std::string> prepare() {
    for (const auto* path : {&json, &html, &junit, &summary_md})
      if (auto why = unwritable_file(*path)) return *why;
    if (!hgrm_dir.empty()) {
      std::error_code ec;
      if (std::filesystem::exists(hgrm_dir, ec) ? !std::filesystem::is_directory(hgrm_dir, ec) ||
                                                      access(hgrm_dir.c_str(), W_OK | X_OK) != 0
                                                : static_cast<bool>(unwritable_parent(hgrm_dir)))
        return "cannot write HdrHistogram files to " + hgrm_dir;
    }
    auto parsed = sigkit::bench::parse_max_regression(max_regression);
    if (!parsed) return parsed.error();
    policy = parsed.value();
    if (!max_regression.empty() && baseline.empty()) return "--max-regression needs --baseline";
    if (!baseline.empty()) {
      auto loaded = sigkit::bench::load_report_file(baseline);
      if (!loaded) return "baseline " + baseline + ": " + loaded.error();
      baseline_report = std::move(loaded.value());
    }
    return std::nullopt;
  }

  // Compares with the baseline (when given), prints the report and writes
  // every file; returns the exit code its verdict makes.
  int finish(sigkit::bench::report& r) const {
    if (baseline_report) r.baseline = compare_with_baseline(r, *baseline_report, policy, baseline);
    sigkit::bench::write_text(std::cout, r);
    write(json, [&](std::ostream& o) { o << sigkit::bench::to_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"; });
    write(html, [&](std::ostream& o) { sigkit::bench::write_html(o, r); });
    write(junit, [&](std::ostream& o) { sigkit::bench::write_junit(o, r); });
    if (!summary_md.empty()) {
      write(summary_md, [&](std::ostream& o) { sigkit::bench::write_markdown_summary(o, r); });
    } else if (const char* step_summary = std::getenv("GITHUB_STEP_SUMMARY"); step_summary && *step_summary) {
      std::ofstream out(step_summary, std::ios::app);
      sigkit::bench::write_markdown_summary(out, r);
    }
    if (!hgrm_dir.empty()) sigkit::bench::write_hgrm_files(hgrm_dir, r);
    auto verdict = sigkit::bench::verdict_of(r);
    // A run that was aborted says only why: its thresholds judged nothing.
    for (const auto& reason : verdict.reasons) {
      std::fprintf(stderr, "sigbench: %s\n", reason.c_str());
      if (verdict.result == sigkit::bench::outcome::aborted) break;
    }
    return exit_code(verdict);
  }

 private:
  static std::optional<std::string> unwritable_parent(const std::string& path) {
    auto parent = std::filesystem::path(path).parent_path();
    if (parent.empty()) parent = ".";
    std::error_code ec;
    if (!std::filesystem::is_directory(parent, ec) || access(parent.c_str(), W_OK | X_OK) != 0)
      return "cannot write " + path + ": " + parent.string() + " is not a writable directory";
    return std::nullopt;
  }
  static std::optional<std::string> unwritable_file(const std::string& path) {
    if (path.empty()) return std::nullopt;
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return "cannot write " + path + ": it is a directory";
    if (std::filesystem::exists(path, ec)) {
      if (access(path.c_str(), W_OK) != 0) return "cannot write " + path + ": permission denied";
      return std::nullopt;
    }
    return unwritable_parent(path);
  }
  template <class Writer>
  static void write(const std::string& path, Writer&& writer) {
    if (path.empty()) return;
    std::ofstream out(path);
    writer(out);
    if (!out) std::fprintf(stderr, "sigbench: could not write %s\n", path.c_str());
  }
};

}  // namespace sigbench
