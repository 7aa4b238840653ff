// The query of a request target (RFC 3986 §3.4), read the way browsers
// write it (application/x-www-form-urlencoded: '+' is a space).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sigkit::http {

// The first value of `name` in the target's query, percent-decoded; nullopt
// when absent or when an escape is malformed.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

}  // namespace sigkit::http
