// What a test reads off a running sigserve: Prometheus samples from
// /metrics, and the process's CPU time from /proc.
#pragma once

#include <cstdint>
#include <string>

#include <sys/types.h>

namespace sigkit::test {

std::string metrics_text(std::uint16_t port);
// The value of an unlabelled or labelled sample ("name" or "name{l=\"v\"}"), or -1.
double metric(const std::string& text, const std::string& sample);
// utime + stime of a process, in seconds.
double cpu_seconds(pid_t pid);
// Resident set size of a process, in bytes.
std::uint64_t resident_bytes(pid_t pid);

}  // namespace sigkit::test
