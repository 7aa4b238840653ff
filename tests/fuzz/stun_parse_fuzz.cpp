// libFuzzer entry point for the STUN/TURN codec: hostile bytes must never
// crash, read out of bounds or break the codec's own invariants.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/core/include \
//     tests/fuzz/stun_parse_fuzz.cpp lib/core/src/stun/*.cpp -lssl -lcrypto -lidn -o stun_parse_fuzz
//   ./stun_parse_fuzz -max_total_time=60 corpus/
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>
#include <vector>

#include "sigkit/stun/message.hpp"
#include "sigkit/stun/credentials.hpp"
#include "sigkit/stun/framing.hpp"
#include "sigkit/stun/uri.hpp"

using namespace sigkit::stun;

namespace {

// abort() rather than assert(): the check must survive -DNDEBUG builds.
void require(bool ok) {
  if (!ok) std::abort();
}

void read_every_attribute(const message& m) {
  for (const auto& a : m.attributes_) {
    (void)m.get_address(a.type_);
    (void)m.get_string(a.type_);
    (void)m.get_u32(a.type_);
    (void)m.get_u64(a.type_);
    (void)attribute_name(a.type_);
  }
  (void)m.error();
  (void)m.requested_transport();
  (void)m.channel_number();
  (void)m.change_request_flags();
  (void)m.unknown_attributes();
  (void)m.unknown_comprehension_required();
  if (auto x = m.xor_mapped_address()) (void)x->to_string();
}

void check_parse(std::span<const std::byte> bytes) {
  const std::vector<std::byte> key{std::byte{'k'}};
  (void)verify_integrity(bytes, key);
  (void)verify_fingerprint(bytes);
  const bool stun = looks_like_stun(bytes);

  auto parsed = parse(bytes);
  // looks_like_stun() is the header check parse() starts with.
  if (parsed.ok()) require(stun);
  if (!parsed.ok()) return;
  read_every_attribute(*parsed);

  // Round trip: what we parsed, we can write, and read back unchanged
  // (MESSAGE-INTEGRITY and FINGERPRINT are recomputed, so drop them).
  message expected = *parsed;
  std::erase_if(expected.attributes_, [](const attribute& a) {
    return a.type_ == attribute_type::message_integrity || a.type_ == attribute_type::message_integrity_sha256 ||
           a.type_ == attribute_type::fingerprint;
  });
  const auto again = serialize(*parsed, {key, true});
  require(again.size() <= max_message_size);
  auto reparsed = parse(again);
  require(reparsed.ok());
  require(verify_integrity(again, key) == check_result::valid);
  require(verify_fingerprint(again) == check_result::valid);
  message back = *reparsed;
  std::erase_if(back.attributes_, [](const attribute& a) {
    return a.type_ == attribute_type::message_integrity || a.type_ == attribute_type::fingerprint;
  });
  require(back == expected);
}

void check_stream(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  // The first byte picks the chunk size so the fuzzer explores splits.
  const std::size_t chunk = 1 + std::to_integer<std::size_t>(bytes[0]) % 64;
  const auto stream = bytes.subspan(1);
  stream_reassembler r(4096);  // small, so the limit is exercised too
  std::size_t fed = 0;
  std::size_t consumed = 0;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    const auto piece = stream.subspan(at, std::min(chunk, stream.size() - at));
    if (!r.feed(piece).ok()) break;
    fed += piece.size();
    while (auto f = r.next()) {
      require(!f->bytes_.empty());
      if (f->kind_ == frame_kind::stun) {
        require(f->bytes_.size() >= header_size);
        consumed += f->bytes_.size();
        (void)parse(f->bytes_);
      } else {
        auto cd = decode_channel_data(f->bytes_);
        require(cd.ok());
        consumed += channel_data_header_size + ((cd->data_.size() + 3) & ~std::size_t{3});
      }
    }
    if (r.error()) break;
    // Every byte fed is either handed out in a frame or still buffered.
    require(consumed + r.buffered() == fed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  check_parse(bytes);
  (void)decode_channel_data(bytes);
  check_stream(bytes);

  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto u = parse_uri(text)) require(parse_uri(u->to_string()).ok());
  (void)parse_endpoint(text);
  if (size < 512) (void)saslprep(text);
  (void)parse_turn_rest_username(text);
  return 0;
}
