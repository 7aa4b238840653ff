#include "sigkit/proto/ice_servers.hpp"

#include <nlohmann/json.hpp>

#include "sigkit/stun/credentials.hpp"

namespace sigkit::proto {

std::string ice_servers_json(const ice_config& config, std::string_view user, std::int64_t now_unix_seconds) {
  auto servers = nlohmann::json::array();
  if (!config.stun_uris.empty()) servers.push_back({{"urls", config.stun_uris}});
  if (!config.turn_uris.empty()) {
    auto credentials = stun::make_turn_rest_credentials(config.turn_secret, user, now_unix_seconds,
                                                        config.turn_ttl.count());
    servers.push_back(
        {{"urls", config.turn_uris}, {"username", credentials.username_}, {"credential", credentials.password_}});
  }
  return servers.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sigkit::proto
