// MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and FINGERPRINT (CRC-32,
// RFC 8489 §14.7), plus the transaction id source.
#include "sigkit/stun/message.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

#include "wire.hpp"

namespace sigkit::stun {

namespace {

// CRC-32 as ISO 3309 / ITU-T V.42 define it (reflected polynomial
// 0xEDB88320, initial and final XOR 0xFFFFFFFF): the one RFC 8489 §14.7
// names. A 1 KiB table built at compile time is all it takes, so the codec
// needs no zlib.
constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto crc_table = make_crc_table();

}  // namespace

std::uint32_t crc32(std::span<const std::byte> bytes) noexcept {
  std::uint32_t c = 0xFFFFFFFFU;
  for (const std::byte b : bytes) c = crc_table[(c ^ std::to_integer<std::uint32_t>(b)) & 0xFFU] ^ (c >> 8);
  return c ^ 0xFFFFFFFFU;
}

namespace wire {

sha1_digest hmac_sha1(std::span<const std::byte> key, std::span<const std::byte> data) {
  static const unsigned char empty = 0;  // OpenSSL treats a null key as "reuse the old one"
  sha1_digest out{};
  unsigned int out_len = 0;
  const auto* k = key.empty() ? &empty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* d = data.empty() ? &empty : reinterpret_cast<const unsigned char*>(data.data());
  if (HMAC(EVP_sha1(), k, static_cast<int>(key.size()), d, data.size(),
           reinterpret_cast<unsigned char*>(out.data()), &out_len) == nullptr ||
      out_len != out.size())
    throw std::runtime_error("OpenSSL HMAC-SHA1 failed");  // only if the crypto library is broken
  return out;
}

}  // namespace wire

transaction_id random_transaction_id() {
  transaction_id tid{};
  if (RAND_bytes(reinterpret_cast<unsigned char*>(tid.data()), static_cast<int>(tid.size())) != 1)
    throw std::runtime_error("OpenSSL RAND_bytes failed");  // no entropy: nothing sane to do
  return tid;
}

std::string_view to_string(check_result r) noexcept {
  switch (r) {
    case check_result::valid: return "valid";
    case check_result::absent: return "absent";
    case check_result::mismatch: return "mismatch";
    case check_result::malformed: return "malformed";
  }
  return "?";
}

namespace {

struct located {
  std::size_t offset = 0;  // of the attribute header
  std::span<const std::byte> value;
};

// The first attribute of `wanted` that parse() would keep: MESSAGE-INTEGRITY
// is only looked for before FINGERPRINT, FINGERPRINT anywhere it is first.
std::optional<located> find_trailer(std::span<const std::byte> bytes, attribute_type wanted, bool& malformed) {
  malformed = false;
  if (wire::check_header(bytes)) {
    malformed = true;
    return std::nullopt;
  }
  std::optional<located> found;
  const auto error = wire::for_each_attribute(
      bytes, [&](std::uint16_t type, std::size_t at, std::span<const std::byte> value) {
        const auto t = static_cast<attribute_type>(type);
        if (t == wanted) {
          found = located{at, value};
          return false;
        }
        return t != attribute_type::fingerprint;  // nothing after FINGERPRINT counts
      });
  if (error) {
    malformed = true;
    return std::nullopt;
  }
  return found;
}

// bytes[0, end) with the header's Message Length replaced by `length`.
// `end` is an attribute offset, so at least header_size.
std::vector<std::byte> prefix_with_length(std::span<const std::byte> bytes, std::size_t end, std::size_t length) {
  std::vector<std::byte> out(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(end));
  // Always true (`end` is an attribute offset); the test tells GCC so.
  if (out.size() >= header_size) wire::write_u16(out, 2, static_cast<std::uint16_t>(length));
  return out;
}

}  // namespace

check_result verify_integrity(std::span<const std::byte> bytes, std::span<const std::byte> key) {
  bool malformed = false;
  const auto mi = find_trailer(bytes, attribute_type::message_integrity, malformed);
  if (malformed) return check_result::malformed;
  if (!mi) return check_result::absent;
  if (mi->value.size() != 20) return check_result::malformed;

  // RFC 8489 §14.5: hash the bytes before the attribute with the length
  // field rewritten to end just after MESSAGE-INTEGRITY, so attributes
  // added later (FINGERPRINT) do not change what was signed.
  const auto signed_part = prefix_with_length(bytes, mi->offset, mi->offset + 24 - header_size);
  const auto mac = wire::hmac_sha1(key, signed_part);
  return CRYPTO_memcmp(mac.data(), mi->value.data(), mac.size()) == 0 ? check_result::valid
                                                                      : check_result::mismatch;
}

check_result verify_fingerprint(std::span<const std::byte> bytes) {
  bool malformed = false;
  const auto fp = find_trailer(bytes, attribute_type::fingerprint, malformed);
  if (malformed) return check_result::malformed;
  if (!fp) return check_result::absent;
  if (fp->value.size() != 4) return check_result::malformed;

  // RFC 8489 §14.7: CRC over everything before FINGERPRINT with the length
  // counting it. It must be last, so that is normally the length as sent;
  // rewriting it keeps the check right if junk followed.
  const auto covered = prefix_with_length(bytes, fp->offset, fp->offset + 8 - header_size);
  const std::uint32_t expected = crc32(covered) ^ wire::fingerprint_xor;
  return wire::read_u32(fp->value, 0) == expected ? check_result::valid : check_result::mismatch;
}

}  // namespace sigkit::stun
