// The process figures a scrape of /metrics reports, read from /proc.
#pragma once

#include "sigkit/metrics/server_metrics.hpp"

namespace sigkit::server {

metrics::process_figures read_process_figures();

}  // namespace sigkit::server
