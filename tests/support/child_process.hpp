// What the helpers that run a real server for a test (sigserve, coturn,
// redis-server, nginx, Node) share: argv for posix_spawn, a scratch
// directory, a file's text, and a loopback port to give the server.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sigkit::test {

// posix_spawn's argv: pointers into `args`, null-terminated.
inline std::vector<char*> c_args(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A new directory under the system's temporary one: /tmp/PREFIX-XXXXXX.
inline std::string make_temp_dir(const std::string& prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

// 127.0.0.1:port, for connect() and bind().
inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// A port free on 127.0.0.1 now, below Linux's ephemeral range: a client
// that keeps reconnecting to a stopped server's port in that range may be
// given that very port as its own local one (TCP's simultaneous open then
// connects the socket to itself, and the restarted server cannot bind).
inline std::uint16_t free_loopback_port() {
  unsigned low = 32768;
  if (std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range"); !(range >> low) || low <= 21000 || low > 65535)
    low = 32768;
  static std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<unsigned> pick(20000, low - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto a = loopback(static_cast<std::uint16_t>(pick(random)));
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) break;
    const bool free = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return ntohs(a.sin_port);
  }
  throw std::runtime_error("no free loopback port");
}

}  // namespace sigkit::test
