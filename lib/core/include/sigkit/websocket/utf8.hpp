// Incremental UTF-8 validation (RFC 3629), for text messages that arrive in
// fragments split at arbitrary byte positions (RFC 6455 §8.1).
#pragma once

#include <cstdint>
#include <string_view>

namespace sigkit::websocket {

class utf8_validator {
 public:
  // Feeds the next bytes; false as soon as they cannot be (part of) valid
  // UTF-8: overlong forms, surrogates (U+D800-U+DFFF), code points above
  // U+10FFFF, stray continuation bytes.
  bool feed(std::string_view bytes) noexcept;
  // True when everything fed so far ends on a character boundary.
  bool complete() const noexcept { return state_ == 0; }
  void reset() noexcept { state_ = 0; }

 private:
  std::uint32_t state_ = 0;
};

// Whole-buffer check: valid UTF-8 that ends on a character boundary.
bool is_valid_utf8(std::string_view bytes) noexcept;

}  // namespace sigkit::websocket
