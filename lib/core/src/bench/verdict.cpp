#include "sigkit/bench/verdict.hpp"

namespace sigkit::bench {

std::string run_verdict::headline() const {
  switch (result) {
    case outcome::passed: return "PASSED";
    case outcome::failed: return "FAILED";
    case outcome::aborted: return "ABORTED";
    case outcome::saturated: return "SATURATED";
  }
  return "FAILED";
}

run_verdict verdict_of(const report& r) {
  run_verdict v;
  if (r.aborted) {
    v.result = outcome::aborted;
    v.reasons.push_back("the run was aborted: " + *r.aborted);
  }
  if (r.saturated) {
    if (v.result == outcome::passed) v.result = outcome::saturated;
    v.reasons.push_back("the generator saturated (" + std::to_string(r.late_starts) +
                        " late starts): its figures understate the server");
  }
  for (const auto& t : r.verdicts)
    if (!t.ok) v.reasons.push_back("threshold " + describe(t));
  if (r.baseline)
    for (const auto& c : r.baseline->checks)
      if (!c.ok) v.reasons.push_back("regressed against the baseline: " + c.describe());
  if (v.result == outcome::passed && !v.reasons.empty()) v.result = outcome::failed;
  return v;
}

}  // namespace sigkit::bench
