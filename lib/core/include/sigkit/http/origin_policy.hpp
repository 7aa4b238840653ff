// Which browser origins may open a WebSocket. Browsers send Origin on every
// WebSocket handshake; a page on another site must not be able to use a
// user's local signaling server (cross-site WebSocket hijacking).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigkit::http {

class origin_policy {
 public:
  // Empty `allowed`: requests without Origin, loopback origins and origins
  // naming the same host as the request are accepted. "*" accepts every
  // origin. Otherwise an entry is an exact origin ("https://app.example.com")
  // and only listed origins (plus requests without Origin) are accepted.
  explicit origin_policy(std::vector<std::string> allowed = {});

  bool allows(std::optional<std::string_view> origin, std::string_view host_header) const;

 private:
  std::vector<std::string> allowed_;
  bool any_ = false;
};

}  // namespace sigkit::http
