#include "target.hpp"

#include <cstring>
#include <future>
#include <memory>
#include <thread>

#include <netdb.h>

namespace sigkit::bench_engine {

result<endpoint, std::string> resolve_once(const std::string& host, const std::string& port, int family,
                                           std::chrono::nanoseconds timeout) {
  // getaddrinfo cannot be cancelled; it runs on a thread of its own, and a
  // lookup that outlives the timeout is left to finish unobserved.
  auto answer = std::make_shared<std::promise<result<endpoint, std::string>>>();
  auto future = answer->get_future();
  std::thread([host, port, family, answer] {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (rc != 0 || !found) {
      answer->set_value("cannot resolve " + host + ": " + (rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc)));
      return;
    }
    endpoint e;
    std::memcpy(&e.address, found->ai_addr, found->ai_addrlen);
    e.length = found->ai_addrlen;
    ::freeaddrinfo(found);
    answer->set_value(e);
  }).detach();
  if (future.wait_for(timeout) != std::future_status::ready)
    return "cannot resolve " + host + " within the connect timeout (" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) + " ms)";
  return future.get();
}

result<endpoint, std::string> local_address(const std::string& address) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(address.c_str(), "0", &hints, &found) != 0 || !found)
    return "bad source address '" + address + "'";
  endpoint e;
  std::memcpy(&e.address, found->ai_addr, found->ai_addrlen);
  e.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return e;
}

}  // namespace sigkit::bench_engine
