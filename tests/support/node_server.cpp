#include "node_server.hpp"

#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sigkit::test {

node_server::node_server(const std::string& script, std::vector<std::string> args) {
  char tmpl[] = "/tmp/sigkit-node-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv{"node", SIGKIT_SOURCE_DIR "/tests/dialects/" + script, "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  int rc = posix_spawnp(&pid_, "node", &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(log_fd);
  if (rc != 0) throw std::runtime_error("cannot start node");

  std::string line;
  for (int waited_ms = 0; line.find('\n') == std::string::npos && waited_ms < 15000; waited_ms += 100) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[128];
    auto n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  unsigned port = 0;
  if (std::sscanf(line.c_str(), "listening %u", &port) != 1 || port == 0 || port > 65535) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error(script + " did not start: stdout '" + line + "', stderr:\n" + log());
  }
  port_ = static_cast<std::uint16_t>(port);
}

node_server::~node_server() {
  kill(pid_, SIGTERM);
  for (int i = 0; i < 200; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      std::remove(log_path_.c_str());
      return;
    }
    usleep(10000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  std::remove(log_path_.c_str());
}

std::string node_server::log() const {
  std::ifstream in(log_path_);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace sigkit::test
