// `--junit FILE`: the run as JUnit XML, the test-report format CI systems
// (GitHub Actions' test reporters, GitLab, Jenkins, Azure Pipelines) render.
// Each threshold is a test case, the default failure rules too ("failed==0
// (default)"), and so are the baseline comparison's checks, the run itself
// (an error when it was aborted) and the generator (a failure when it
// saturated). Pure: a report in, XML out.
//
//   <testsuites name="sigbench" tests failures errors time>
//     <testsuite name="sigbench: SCENARIO" tests failures errors skipped time timestamp hostname>
//       <properties><property name value/>...</properties>
//       <testcase classname="sigbench.SCENARIO" name="run completed" time/>
//       <testcase classname="sigbench.SCENARIO.thresholds" name="join.p99&lt;20ms" time>
//         <failure type="threshold" message="join.p99&lt;20ms (observed 23.100 ms)">...</failure>
//       </testcase>
//       <testcase classname="sigbench.SCENARIO.baseline" name="join.p99">
//         <skipped message="not compared: ..."/>
//       </testcase>
//       <system-out>the text report</system-out>
//     </testsuite>
//   </testsuites>
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "sigkit/bench/report.hpp"

namespace sigkit::bench {

void write_junit(std::ostream& out, const report& r);

// Text as XML character data or an attribute value: markup characters
// escaped, and characters XML 1.0 cannot hold (most control characters,
// invalid UTF-8) replaced with U+FFFD.
std::string xml_escape(std::string_view text);

}  // namespace sigkit::bench
