#include "process_stats.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace sigkit::server {

metrics::process_figures read_process_figures() {
  metrics::process_figures f;
  const double ticks_per_second = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));

  // proc(5): /proc/self/stat; field 2 (comm) may hold spaces, so fields are
  // counted after its closing parenthesis.
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    auto close = line.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(line.substr(close + 2));
      std::string field;
      unsigned long long utime = 0, stime = 0, start = 0;
      long long rss = 0;
      for (int i = 3; rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        else if (i == 15) stime = std::stoull(field);
        else if (i == 22) start = std::stoull(field);
        else if (i == 24) {
          rss = std::stoll(field);
          break;
        }
      }
      f.cpu_seconds = static_cast<double>(utime + stime) / ticks_per_second;
      f.resident_bytes = static_cast<std::uint64_t>(static_cast<double>(rss) * page);
      // starttime is in ticks since boot: add the boot time.
      std::ifstream boot("/proc/stat");
      std::string key;
      while (boot >> key) {
        if (key == "btime") {
          double btime = 0;
          boot >> btime;
          f.start_time_seconds = btime + static_cast<double>(start) / ticks_per_second;
          break;
        }
        boot.ignore(1 << 20, '\n');
      }
    }
  }
  if (DIR* fds = ::opendir("/proc/self/fd")) {
    while (auto* entry = ::readdir(fds))
      if (entry->d_name[0] != '.') ++f.open_fds;
    ::closedir(fds);
    if (f.open_fds) --f.open_fds;  // the directory's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) f.max_fds = limit.rlim_cur;
  return f;
}

}  // namespace sigkit::server
