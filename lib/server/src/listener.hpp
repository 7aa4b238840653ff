// The listening sockets: for each address the --listen name resolves to, one
// socket per event loop in a SO_REUSEPORT group, so the kernel spreads new
// connections over the loops and no loop hands sockets to another.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sigkit::server {

struct listening_sockets {
  std::uint16_t port = 0;
  std::vector<std::vector<int>> per_loop;  // [loop] -> descriptors (one per address)
  std::vector<std::string> addresses;      // what was bound, for the start line
};

// Throws std::system_error when nothing can be bound: the address is in use
// (checked without SO_REUSEPORT first, so a second sigserve on the same port
// fails instead of silently sharing it), unknown, or not ours.
listening_sockets open_listeners(const std::string& host, std::uint16_t port, unsigned loops);

}  // namespace sigkit::server
