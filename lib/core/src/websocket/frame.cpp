#include "sigkit/websocket/frame.hpp"

#include <cstring>

namespace sigkit::websocket {

bool is_valid_close_code(std::uint16_t code) noexcept {
  // RFC 6455 §7.4.1 and the §11.7 registry: 1004 is reserved, 1005 and 1006
  // stand for "no code" and "no close frame" and 1015 for a failed TLS
  // handshake, so none of them may appear on the wire; 1016-2999 are
  // reserved for future revisions; 3000-4999 belong to libraries and
  // applications.
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

std::size_t header_size(std::uint64_t payload_size, bool masked) noexcept {
  const std::size_t length_bytes = payload_size <= 125 ? 0 : payload_size <= 0xFFFF ? 2 : 8;
  return 2 + length_bytes + (masked ? 4 : 0);
}

std::size_t write_header(std::span<char, max_header_bytes> out, opcode op, bool fin, std::uint64_t payload_size,
                         std::optional<std::uint32_t> mask_key) noexcept {
  // RSV1-3 stay clear: no extension is ever negotiated (§5.2).
  out[0] = static_cast<char>((fin ? 0x80 : 0x00) | static_cast<std::uint8_t>(op));
  const std::uint8_t mask_bit = mask_key ? 0x80 : 0x00;
  std::size_t n = 2;
  // §5.2: "the minimal number of bytes MUST be used to encode the length".
  if (payload_size <= 125) {
    out[1] = static_cast<char>(mask_bit | payload_size);
  } else if (payload_size <= 0xFFFF) {
    out[1] = static_cast<char>(mask_bit | 126);
    out[2] = static_cast<char>(payload_size >> 8);
    out[3] = static_cast<char>(payload_size);
    n = 4;
  } else {
    out[1] = static_cast<char>(mask_bit | 127);
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<char>(payload_size >> (56 - 8 * i));
    n = 10;
  }
  if (mask_key) {
    for (int i = 0; i < 4; ++i) out[n + i] = static_cast<char>(*mask_key >> (24 - 8 * i));
    n += 4;
  }
  return n;
}

void apply_mask(std::span<char> data, std::uint32_t mask_key, std::size_t offset) noexcept {
  // §5.3: octet i of the payload is XORed with octet (i % 4) of the key.
  // Lay out eight key octets in memory order, starting with the one that
  // falls on data[0], and XOR a word at a time; memcpy keeps the loads and
  // stores free of alignment and aliasing trouble and compiles to plain
  // moves.
  unsigned char key[8];
  for (std::size_t i = 0; i < 8; ++i) key[i] = static_cast<unsigned char>(mask_key >> (24 - 8 * ((offset + i) % 4)));
  std::uint64_t key_word;
  std::memcpy(&key_word, key, sizeof key_word);

  char* p = data.data();
  std::size_t n = data.size();
  for (; n >= 32; p += 32, n -= 32) {
    std::uint64_t w[4];
    std::memcpy(w, p, sizeof w);
    w[0] ^= key_word;
    w[1] ^= key_word;
    w[2] ^= key_word;
    w[3] ^= key_word;
    std::memcpy(p, w, sizeof w);
  }
  for (; n >= 8; p += 8, n -= 8) {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    w ^= key_word;
    std::memcpy(p, &w, sizeof w);
  }
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(p[i] ^ key[i]);
}

std::string server_frame(opcode op, std::string_view payload) {
  char header[max_header_bytes];
  const std::size_t n = write_header(header, op, true, payload.size());
  std::string frame;
  frame.reserve(n + payload.size());
  frame.append(header, n);
  frame.append(payload);
  return frame;
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  // §5.5: a control frame's payload is at most 125 bytes, two of them the
  // code. §5.5.1: the reason is UTF-8, so cut it only where a character
  // begins: back off over at most three continuation bytes (10xxxxxx).
  constexpr std::size_t max_reason = max_control_payload - 2;
  if (reason.size() > max_reason) {
    std::size_t cut = max_reason;
    for (int i = 0; i < 3 && cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80; ++i) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return payload;
}

}  // namespace sigkit::websocket
