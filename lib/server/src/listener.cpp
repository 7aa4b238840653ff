#include "listener.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace sigkit::server {
namespace {

struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;
};

std::vector<address> resolve(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(host.c_str(), "0", &hints, &found);
  if (rc != 0)
    throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                            "cannot resolve listen address " + host + ": " + ::gai_strerror(rc));
  std::vector<address> out;
  for (auto* ai = found; ai; ai = ai->ai_next) {
    address a;
    std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
    a.length = static_cast<socklen_t>(ai->ai_addrlen);
    char text[INET6_ADDRSTRLEN] = "";
    const void* raw = ai->ai_family == AF_INET6 ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr)
                                                : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr);
    ::inet_ntop(ai->ai_family, raw, text, sizeof text);
    a.text = text;
    if (std::none_of(out.begin(), out.end(), [&](const address& o) { return o.text == a.text; })) out.push_back(a);
  }
  ::freeaddrinfo(found);
  return out;
}

void set_port(address& a, std::uint16_t port) {
  if (a.storage.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6&>(a.storage).sin6_port = htons(port);
  else reinterpret_cast<sockaddr_in&>(a.storage).sin_port = htons(port);
}

std::uint16_t bound_port(int fd) {
  sockaddr_storage s{};
  socklen_t len = sizeof s;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&s), &len);
  return ntohs(s.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(s).sin6_port
                                       : reinterpret_cast<sockaddr_in&>(s).sin_port);
}

// Binds (and, unless probing, listens); -1 with errno on failure.
int bind_socket(const address& a, bool reuse_port, bool listen_too) {
  int fd = ::socket(a.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, zero = 0;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // past TIME_WAIT of an earlier run
  if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // Signaling is small messages that must not wait for an ACK (Nagle).
  // Accepted sockets inherit this (Linux), which saves a system call each.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // "::" should take IPv4 too, as users expect from "listen everywhere".
  if (a.storage.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) != 0 ||
      (listen_too && ::listen(fd, SOMAXCONN) != 0)) {
    int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

}  // namespace

listening_sockets open_listeners(const std::string& host, std::uint16_t port, unsigned loops) {
  auto addresses = resolve(host);
  listening_sockets out;
  out.per_loop.resize(loops);
  out.port = port;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    auto& a = addresses[i];
    const bool first = out.addresses.empty();
    auto fail = [&](const std::string& what) {
      if (!first) return;  // another address of the name is bound: go on without this one
      throw std::system_error(errno, std::system_category(),
                              "cannot listen on " + a.text + " port " + std::to_string(out.port) + what);
    };
    if (out.port != 0) {
      // Is anyone listening there already? A SO_REUSEPORT bind would
      // succeed and quietly split the traffic with them.
      set_port(a, out.port);
      int probe = bind_socket(a, false, false);
      if (probe < 0) {
        fail("");
        continue;
      }
      ::close(probe);
    }
    std::vector<int> group;
    for (unsigned l = 0; l < loops; ++l) {
      set_port(a, out.port);
      int fd = bind_socket(a, true, true);
      if (fd < 0) break;
      if (out.port == 0) out.port = bound_port(fd);
      group.push_back(fd);
    }
    if (group.size() != loops) {
      for (int fd : group) ::close(fd);
      fail("");
      continue;
    }
    for (unsigned l = 0; l < loops; ++l) out.per_loop[l].push_back(group[l]);
    out.addresses.push_back(a.text);
  }
  return out;
}

}  // namespace sigkit::server
