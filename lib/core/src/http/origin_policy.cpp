#include "sigkit/http/origin_policy.hpp"

#include <algorithm>
#include <cctype>

namespace sigkit::http {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "http://host:port" -> "host:port"; empty when it is not an http(s) origin.
std::string authority_of(std::string_view origin) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (origin.substr(0, scheme.size()) == scheme) {
      auto rest = origin.substr(scheme.size());
      if (rest.empty() || rest.find('/') != std::string_view::npos) return {};
      return lower(rest);
    }
  }
  return {};
}

std::string_view host_of(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  return authority.substr(0, authority.find(':'));
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  if (host.size() > 10 && host.substr(host.size() - 10) == ".localhost") return true;
  return host.substr(0, 4) == "127." &&
         std::all_of(host.begin(), host.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; });
}

}  // namespace

origin_policy::origin_policy(std::vector<std::string> allowed) {
  for (auto& entry : allowed) {
    if (entry == "*") any_ = true;
    else {
      while (!entry.empty() && entry.back() == '/') entry.pop_back();
      allowed_.push_back(lower(entry));
    }
  }
}

bool origin_policy::allows(std::optional<std::string_view> origin, std::string_view host_header) const {
  // Native apps and command-line clients send no Origin; the check protects
  // browsers, which always do.
  if (!origin) return true;
  if (any_) return true;
  if (!allowed_.empty())
    return std::find(allowed_.begin(), allowed_.end(), lower(*origin)) != allowed_.end();
  auto authority = authority_of(*origin);
  if (authority.empty()) return false;  // "null" and other opaque origins
  if (is_loopback_host(host_of(authority))) return true;
  return authority == lower(host_header);
}

}  // namespace sigkit::http
