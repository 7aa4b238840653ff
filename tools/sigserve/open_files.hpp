// Every connection is a file descriptor, and the usual soft limit (1024) is
// far below what --max-connections allows. An unprivileged process may raise
// its soft limit up to the hard one, so sigserve does that at start and warns
// when even the hard limit is short.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include <sys/resource.h>

namespace sigkit::sigserve {

struct open_files_limit {
  std::uint64_t soft;  // what the process may open now
  std::uint64_t hard;  // the ceiling only root (or systemd's LimitNOFILE=) can lift
};

// Raises RLIMIT_NOFILE's soft limit to the hard one; nullopt if the limit
// cannot even be read. A hard limit of RLIM_INFINITY is refused by Linux
// for open files (fs.nr_open caps it), in which case the soft one stays.
inline std::optional<open_files_limit> raise_open_files_limit() noexcept {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return std::nullopt;
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return open_files_limit{static_cast<std::uint64_t>(lim.rlim_cur), static_cast<std::uint64_t>(lim.rlim_max)};
}

// Descriptors the server may hold at its limits: every WebSocket and every
// connection not yet upgraded, plus headroom for the listening sockets, each
// event loop's epoll and wake-up descriptors, the log and static files being
// served.
inline std::uint64_t open_files_needed(std::size_t max_connections, std::size_t max_http_connections,
                                       unsigned threads) {
  return std::uint64_t{max_connections} + max_http_connections + 64 + 4 * std::uint64_t{threads};
}

}  // namespace sigkit::sigserve
