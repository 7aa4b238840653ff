// A deliberately broken protocol v1 server for sigbench's tests: it routes
// with the real room registry but silently drops the relay numbered
// `drop_relay` (counting candidates from 1). sigbench must notice.
#pragma once

#include <cstdint>
#include <memory>

namespace sigkit::test {

class lossy_server {
 public:
  explicit lossy_server(std::uint64_t drop_relay);
  ~lossy_server();
  std::uint16_t port() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sigkit::test
