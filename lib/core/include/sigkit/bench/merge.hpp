// `sigbench merge`: the reports of several sigbench processes (the segments
// of one plan, --segment I/N, or any runs against one target) as one report.
// Pure: reports in, a report out.
//
// Lossless where it can be: histograms merge slot by slot (each report
// carries them in HdrHistogram's encoding, with their exact extremes and
// sums), so the merged percentiles are those of one histogram holding every
// sample; counters, errors by code and failures by reason add up. Timelines
// are aligned on each report's start time and added second by second.
// Derived figures are recomputed from the merged ones: join_rate as all
// joins over the span from the first start to the last join, message_rate
// as all relays received over the merged duration.
//
// Thresholds are not merged (a share of the merged plan is not the sum of
// the parts' shares): the caller evaluates the merged report again, with the
// scenario's or the command line's thresholds, or with threshold_exprs().
#pragma once

#include <string>
#include <vector>

#include "sigkit/bench/report.hpp"
#include "sigkit/result.hpp"

namespace sigkit::bench {

// Fails (naming the part) when a part has no start time or its histograms
// have another range than the first part's.
result<report, std::string> merge_reports(const std::vector<report>& parts);

// The threshold expressions the parts were judged by, each once, in order of
// first appearance, without the default rules (evaluate() adds those again).
std::vector<std::string> threshold_exprs(const std::vector<report>& parts);

// "2026-11-23T13:30:00Z" (fractions of a second allowed) as seconds since
// the epoch; nullopt when not of that form.
std::optional<double> parse_utc_time(std::string_view text);

}  // namespace sigkit::bench
