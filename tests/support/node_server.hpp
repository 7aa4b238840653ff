// A Node.js server from tests/dialects for a test: started on a free
// loopback port (`node SCRIPT --port 0 ARGS...`, which prints `listening
// PORT`), stopped with SIGTERM afterwards. These are the servers people
// write instead of sigserve, which sigbench must load-test too.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace sigkit::test {

class node_server {
 public:
  // `script` is a file name in tests/dialects.
  explicit node_server(const std::string& script, std::vector<std::string> args = {});
  ~node_server();
  node_server(const node_server&) = delete;
  node_server& operator=(const node_server&) = delete;

  std::uint16_t port() const { return port_; }
  std::string log() const;  // its stderr so far

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::string log_path_;
};

}  // namespace sigkit::test
