// `--summary-md FILE` (and $GITHUB_STEP_SUMMARY): the run as GitHub-flavoured
// Markdown, for a CI job's summary page: the verdict and its reasons first,
// then a table of latencies, the counts, the thresholds and, when there is
// one, the baseline comparison. Pure: a report in, Markdown out.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include "sigkit/bench/report.hpp"

namespace sigkit::bench {

void write_markdown_summary(std::ostream& out, const report& r);

// Text for a Markdown table cell or line: `|`, `*`, `_`, backquotes, `<` and
// the other characters Markdown would read as markup escaped, newlines
// folded into spaces.
std::string markdown_escape(std::string_view text);

}  // namespace sigkit::bench
