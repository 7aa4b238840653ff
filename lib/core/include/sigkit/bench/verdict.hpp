// A run's verdict in one place, for every output that leads with it (the
// HTML report's banner, the Markdown summary, the exit code): pass or fail,
// and why, each reason one line a person can act on.
#pragma once

#include <string>
#include <vector>

#include "sigkit/bench/report.hpp"

namespace sigkit::bench {

enum class outcome {
  passed,    // every threshold (and default rule) held, no regression
  failed,    // a threshold failed or the run regressed against its baseline
  aborted,   // the run stopped early (target unreachable, interrupted)
  saturated  // the generator fell behind: the figures understate the server
};

struct run_verdict {
  outcome result = outcome::passed;
  std::vector<std::string> reasons;  // empty when passed

  bool passed() const noexcept { return result == outcome::passed; }
  // "PASSED", "FAILED", "ABORTED", "SATURATED".
  std::string headline() const;
};

// Aborted outranks saturated, which outranks failed: a run that did not
// finish, or whose generator could not keep up, says nothing about the
// thresholds. Reasons list all that applies, the outranking first.
run_verdict verdict_of(const report& r);

}  // namespace sigkit::bench
