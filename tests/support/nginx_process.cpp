#include "nginx_process.hpp"

#include "child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace sigkit::test {

namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

bool accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const auto a = loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

bool directive(std::string_view trimmed, std::string_view name) {
  return trimmed.size() > name.size() && trimmed.substr(0, name.size()) == name &&
         (trimmed[name.size()] == ' ' || trimmed[name.size()] == '\t');
}

// "server 127.0.0.1:8081 max_fails=1 fail_timeout=10s;" -> " max_fails=1 fail_timeout=10s"
std::string server_parameters(std::string_view trimmed) {
  auto rest = trim_left(trimmed.substr(std::string_view("server").size()));
  const auto address_end = rest.find_first_of(" \t;");
  if (address_end == std::string_view::npos) return {};
  rest.remove_prefix(address_end);
  const auto semicolon = rest.rfind(';');
  return std::string(rest.substr(0, semicolon));
}

// The main configuration around the site: everything that would otherwise
// name a root path (Debian's build puts the pid in /run and temp files in
// /var/lib/nginx) points into the temp dir.
std::string main_config(const std::string& dir) {
  return "# Written by tests/support/nginx_process.cpp for one test run.\n"
         "daemon off;\n"
         // One process: it serves itself, and dies with the test (see spawn()).
         "master_process off;\n"
         "pid " + dir + "/nginx.pid;\n"
         "lock_file " + dir + "/nginx.lock;\n"
         "error_log " + dir + "/error.log warn;\n"
         "events { worker_connections 4096; }\n"
         "http {\n"
         "    log_format upstreams '$remote_addr \"$request\" $status upstream=$upstream_addr "
         "upstream_status=$upstream_status';\n"
         "    access_log " + dir + "/access.log upstreams;\n"
         "    client_body_temp_path " + dir + "/client_body;\n"
         "    proxy_temp_path " + dir + "/proxy;\n"
         "    fastcgi_temp_path " + dir + "/fastcgi;\n"
         "    uwsgi_temp_path " + dir + "/uwsgi;\n"
         "    scgi_temp_path " + dir + "/scgi;\n"
         "    include " + dir + "/sigserve.conf;\n"
         "}\n";
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace

std::string shipped_nginx_site() {
  const std::string path = SIGKIT_SOURCE_DIR "/deploy/nginx/sigserve.conf";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string adapt_nginx_site(std::string_view site, std::uint16_t listen_port,
                             const std::vector<std::uint16_t>& upstream_ports) {
  if (upstream_ports.empty()) throw std::invalid_argument("adapt_nginx_site: no upstream ports");
  std::string out;
  bool listened = false;
  bool in_upstream = false;
  bool upstream_done = false;
  bool servers_written = false;
  while (!site.empty()) {
    const auto newline = site.find('\n');
    const auto line = site.substr(0, newline);
    site.remove_prefix(newline == std::string_view::npos ? site.size() : newline + 1);
    const auto trimmed = trim_left(line);
    const auto indent = line.substr(0, line.size() - trimmed.size());
    const bool comment = trimmed.empty() || trimmed.front() == '#';

    if (!comment && !upstream_done && directive(trimmed, "upstream")) in_upstream = true;
    if (in_upstream && !comment && trimmed.front() == '}') {
      in_upstream = false;
      upstream_done = true;
    }
    if (in_upstream && !comment && directive(trimmed, "server")) {
      if (!servers_written) {
        const auto parameters = server_parameters(trimmed);
        for (const auto port : upstream_ports)
          out.append(indent).append("server 127.0.0.1:").append(std::to_string(port)).append(parameters).append(";\n");
        servers_written = true;
      }
      continue;
    }
    if (!comment && !in_upstream && directive(trimmed, "listen")) {
      if (!listened) out.append(indent).append("listen 127.0.0.1:").append(std::to_string(listen_port)).append(";\n");
      listened = true;
      continue;
    }
    out.append(line).append("\n");
  }
  if (!servers_written)
    throw std::runtime_error("the nginx site has no `server` line in an upstream block for the test to replace");
  if (!listened) throw std::runtime_error("the nginx site has no uncommented `listen` line for the test to replace");
  return out;
}

nginx_process::nginx_process(const std::vector<std::uint16_t>& upstream_ports, std::string site)
    : site_(std::move(site)), upstream_ports_(upstream_ports) {
  std::string tmpl = (fs::temp_directory_path() / "sigkit-nginx-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  std::string text;
  try {
    write_file(dir_ + "/nginx.conf", main_config(dir_));
    // A port free when picked may be taken before nginx binds it: then nginx
    // fails (after its own retries), and another port is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_loopback_port();
      write_file(dir_ + "/sigserve.conf", adapt_nginx_site(site_, port_, upstream_ports_));
      spawn();
      if (wait_ready()) return;
      stop();
      if (error_log().find("Address already in use") == std::string::npos) break;
      std::error_code ignored;
      fs::remove(dir_ + "/error.log", ignored);
    }
    text = "nginx did not start:\n" + error_log();
  } catch (const std::exception& e) {
    text = e.what() + std::string("\n") + error_log();
  }
  stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
  throw std::runtime_error(text);
}

nginx_process::~nginx_process() {
  stop();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void nginx_process::spawn() {
  std::vector<std::string> argv{SIGKIT_NGINX_PATH, "-p", dir_ + "/", "-c", dir_ + "/nginx.conf", "-e",
                                dir_ + "/error.log"};
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  // nginx's own stderr (before it opens its error log) goes to the log too.
  const int log_fd = ::open((dir_ + "/error.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open nginx's error log: " + std::string(std::strerror(errno)));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. PR_SET_PDEATHSIG:
    // if the test is killed (a CTest timeout), nginx goes with it rather
    // than holding the port; the getppid check covers a parent already gone.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(cargs[0], cargs.data(), environ);
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

bool nginx_process::wait_ready() {
  const auto deadline = clock::now() + std::chrono::seconds(10);
  while (clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    // nginx retries a busy port for a few seconds before giving up; a
    // connection accepted meanwhile is someone else's.
    if (accepts(port_)) return error_log().find("bind()") == std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void nginx_process::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGQUIT);
  const auto deadline = clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  pid_ = -1;
}

std::string nginx_process::error_log() const { return slurp(dir_ + "/error.log"); }
std::string nginx_process::access_log() const { return slurp(dir_ + "/access.log"); }

}  // namespace sigkit::test
