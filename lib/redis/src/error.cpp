#include "sigkit/redis/error.hpp"

#include <string>

namespace sigkit::redis {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sigkit.redis"; }
  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::timeout: return "Redis did not answer in time";
      case errc::unavailable: return "not connected to Redis";
      case errc::connection_lost: return "the connection to Redis was lost before the reply";
      case errc::protocol: return "Redis sent a reply that is not valid RESP2";
      case errc::server_error: return "Redis answered with an error";
      case errc::backlog_full: return "too many Redis commands awaiting replies";
    }
    return "unknown Redis error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace sigkit::redis
