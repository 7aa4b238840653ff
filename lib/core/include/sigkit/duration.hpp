#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace sigkit {

// "250ms", "25s", "2m", "1.5s", "100us", "0"; a bare number is in
// `bare_unit` (seconds for timeouts on the command line, milliseconds in
// latency thresholds). Negative or unparsable text gives nullopt.
std::optional<std::chrono::nanoseconds> parse_duration(
    std::string_view text, std::chrono::nanoseconds bare_unit = std::chrono::seconds(1));

}  // namespace sigkit
