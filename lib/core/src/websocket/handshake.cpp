#include "sigkit/websocket/handshake.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace sigkit::websocket {

namespace {

// §1.3: the GUID that only a WebSocket server knows to append.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

// The value of a base64 digit (RFC 4648 §4), or -1.
int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string base64(const unsigned char* data, std::size_t size) {
  // EVP_EncodeBlock writes 4 characters per 3 bytes and a terminating NUL.
  std::string buffer(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buffer.data()), data, static_cast<int>(size));
  buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

std::optional<std::string> accept_key(std::string_view key) {
  // §4.1: 16 bytes in base64 are 22 digits and "==". The last digit carries
  // two bits of data and four zero bits (RFC 4648 §3.5); one with those bits
  // set does not encode 16 bytes, it is garbage that a lax decoder forgives.
  if (key.size() != 24 || key[22] != '=' || key[23] != '=') return std::nullopt;
  for (std::size_t i = 0; i < 22; ++i) {
    if (base64_value(key[i]) < 0) return std::nullopt;
  }
  if ((base64_value(key[21]) & 0x0F) != 0) return std::nullopt;

  // §4.2.2 item 5.4: base64(SHA-1(key + GUID)), the key as received.
  std::string input;
  input.reserve(key.size() + accept_guid.size());
  input.append(key);
  input.append(accept_guid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("websocket: SHA-1 failed");
  return base64(digest, digest_size);
}

std::string make_client_key() {
  // §4.1: "a randomly selected 16-byte value", fresh for each connection.
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) throw std::runtime_error("websocket: no random bytes for a client key");
  return base64(nonce, sizeof nonce);
}

bool has_token(std::string_view header_value, std::string_view token) noexcept {
  if (token.empty()) return false;
  // RFC 7230 §7: #token is a list split on commas with optional whitespace
  // (spaces and tabs) around each element; empty elements are allowed.
  while (!header_value.empty()) {
    const std::size_t comma = header_value.find(',');
    std::string_view element = header_value.substr(0, comma);
    header_value = comma == std::string_view::npos ? std::string_view{} : header_value.substr(comma + 1);
    while (!element.empty() && (element.front() == ' ' || element.front() == '\t')) element.remove_prefix(1);
    while (!element.empty() && (element.back() == ' ' || element.back() == '\t')) element.remove_suffix(1);
    if (element.size() != token.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < token.size() && same; ++i) same = ascii_lower(element[i]) == ascii_lower(token[i]);
    if (same) return true;
  }
  return false;
}

}  // namespace sigkit::websocket
