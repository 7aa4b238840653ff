#include "sigserve_process.hpp"

#include "child_process.hpp"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace sigkit::test {
namespace {

}  // namespace

std::string sigserve_path() { return SIGKIT_SIGSERVE_PATH; }

sigserve_process::sigserve_process(std::vector<std::string> args) {
  char tmpl[] = "/tmp/sigserve-test-XXXXXX";
  int log_fd = mkstemp(tmpl);
  if (log_fd < 0) throw std::runtime_error("mkstemp failed");
  log_path_ = tmpl;
  int out[2];
  if (pipe(out) != 0) throw std::runtime_error("pipe failed");

  std::vector<std::string> argv{sigserve_path(), "--port", "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  auto cargs = c_args(argv);
  int rc = posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(log_fd);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);

  // The first stdout line names the URL, and so the port it picked.
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    auto n = read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<std::size_t>(n));
  }
  close(out[0]);
  std::smatch m;
  static const std::regex url(R"(http(s?)://[^ ]+:(\d+)/)");
  if (!std::regex_search(line, m, url)) {
    stop(SIGKILL, std::chrono::seconds(1));
    throw std::runtime_error("sigserve did not start: stdout '" + line + "', stderr:\n" + log());
  }
  tls_ = m[1] == "s";
  port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
}

sigserve_process::~sigserve_process() {
  if (pid_ > 0) stop(SIGKILL, std::chrono::seconds(2));
  if (!log_path_.empty()) std::remove(log_path_.c_str());
}

std::optional<int> sigserve_process::stop(int signal, std::chrono::milliseconds limit) {
  if (pid_ <= 0) return std::nullopt;
  kill(pid_, signal);
  auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return std::nullopt;
}

std::string sigserve_process::log() const { return slurp(log_path_); }

command_result run_command(const std::vector<std::string>& argv_in) {
  auto argv = argv_in;
  char out_tmpl[] = "/tmp/sigkit-cmd-out-XXXXXX";
  char err_tmpl[] = "/tmp/sigkit-cmd-err-XXXXXX";
  int out_fd = mkstemp(out_tmpl), err_fd = mkstemp(err_tmpl);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  auto cargs = c_args(argv);
  pid_t pid;
  int rc = posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_fd);
  close(err_fd);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  command_result result{WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), slurp(out_tmpl),
                        slurp(err_tmpl)};
  std::remove(out_tmpl);
  std::remove(err_tmpl);
  return result;
}

}  // namespace sigkit::test
