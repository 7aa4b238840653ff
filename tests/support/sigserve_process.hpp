// Runs the real sigserve binary on a free loopback port for a test, and
// stops it afterwards. Its stderr goes to a file that is printed when a test
// fails, so a failing run shows the server's own account.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sigkit::test {

class sigserve_process {
 public:
  // Starts `sigserve --port 0 <args>` and waits for its "listening" line
  // (http:// or, with --tls-cert, https://).
  explicit sigserve_process(std::vector<std::string> args = {});
  ~sigserve_process();
  sigserve_process(const sigserve_process&) = delete;
  sigserve_process& operator=(const sigserve_process&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  // ws:// or, when started with --tls-cert, wss://
  std::string ws_url() const { return (tls_ ? "wss://" : "ws://") + std::string("127.0.0.1:") + std::to_string(port_) + "/ws"; }
  std::string http_base() const { return (tls_ ? "https://" : "http://") + std::string("127.0.0.1:") + std::to_string(port_); }

  // Sends a signal and waits up to `limit` for the exit status; nullopt if
  // it had to be killed.
  std::optional<int> stop(int signal, std::chrono::milliseconds limit);
  std::string log() const;  // what it wrote to stderr so far

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  std::string log_path_;
};

// The path of a binary built by this tree (set by CMake).
std::string sigserve_path();

// Runs a command to completion; returns its exit status and what it printed.
struct command_result {
  int status;
  std::string out;
  std::string err;
};
command_result run_command(const std::vector<std::string>& argv);

}  // namespace sigkit::test
