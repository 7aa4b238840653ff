#include "sigkit/redis/script.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace sigkit::redis {

namespace {

// EVALSHA names a script by the SHA-1 of its body, in lowercase hex (as
// SCRIPT LOAD returns it).
std::string sha1_hex(const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(body.data(), body.size(), digest, &size, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("SHA-1 is not available from OpenSSL");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0xf]);
  }
  return out;
}

}  // namespace

script::script(std::string body)
    : body_(std::make_shared<const std::string>(std::move(body))), sha1_(sha1_hex(*body_)) {}

}  // namespace sigkit::redis
