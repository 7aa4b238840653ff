// A Lua script for connection::eval: its body and SHA-1, which EVALSHA
// names it by. Build each once (the hash is computed here) and keep it.
#pragma once

#include <memory>
#include <string>

namespace sigkit::redis {

class script {
 public:
  explicit script(std::string body);

  const std::string& body() const noexcept { return *body_; }
  const std::string& sha1() const noexcept { return sha1_; }  // 40 lowercase hex digits

 private:
  friend class connection;
  std::shared_ptr<const std::string> body_;  // shared with a reload in progress
  std::string sha1_;
};

}  // namespace sigkit::redis
