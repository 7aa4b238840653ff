// RFC 5769 (Test Vectors for STUN), all four vectors, byte for byte.
//
// The bytes are the hex dumps of RFC 5769 §2.1-§2.4, transcribed by hand.
// Each vector's own MESSAGE-INTEGRITY (and FINGERPRINT where present)
// checks out below, so a transcription slip would fail these tests rather
// than hide in them.
#include "sigkit/stun/message.hpp"

#include <catch2/catch.hpp>

#include "hex.hpp"
#include "sigkit/stun/credentials.hpp"

using namespace sigkit::stun;
using sigkit::stun::test::hex;

namespace {

const transaction_id rfc_tid = [] {
  transaction_id t{};
  const auto b = hex("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae");
  std::copy(b.begin(), b.end(), t.begin());
  return t;
}();

// §2.1 Sample Request: short-term credentials, SOFTWARE, PRIORITY,
// ICE-CONTROLLED, USERNAME padded with three spaces, MI, FINGERPRINT.
const auto sample_request = hex(
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74"  // SOFTWARE "STUN test client"
    "00 24 00 04 6e 00 01 ff"                                      // PRIORITY
    "80 29 00 08 93 2f f9 b1 51 26 3b 36"                          // ICE-CONTROLLED
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20"              // USERNAME "evtj:h6vY" + spaces
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2"
    "80 28 00 04 e5 7a 3b cf");

// §2.2 Sample IPv4 Response: SOFTWARE "test vector" (padded with a space),
// XOR-MAPPED-ADDRESS 192.0.2.1:32853, MI, FINGERPRINT.
const auto ipv4_response = hex(
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 08 00 01 a1 47 e1 12 a6 43"
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7"
    "80 28 00 04 c0 7d 4c 96");

// §2.3 Sample IPv6 Response: XOR-MAPPED-ADDRESS
// [2001:db8:1234:5678:11:2233:4455:6677]:32853.
const auto ipv6_response = hex(
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20"
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41"
    "80 28 00 04 c8 fb 0b 4c");

// §2.4 Sample Request with Long-Term Authentication: USERNAME, NONCE,
// REALM, MI (no FINGERPRINT); zero padding.
const auto long_term_request = hex(
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e"
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00"
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41"
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00"
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66");

constexpr std::string_view short_term_password = "VOkJxbRl1RmTxUk/WvJxBt";
// "マトリックス" (MATORIKKUSU) in UTF-8.
constexpr std::string_view lt_username = "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
// "The" U+00AD "M" U+00AA "tr" U+2168: SASLprep drops the soft hyphen and
// NFKC folds the ordinal indicator and the Roman numeral to "TheMatrIX".
constexpr std::string_view lt_password = "The" "\xc2\xad" "M" "\xc2\xaa" "tr" "\xe2\x85\xa8";

std::vector<std::byte> key_bytes(std::string_view s) { return sigkit::stun::test::bytes_of(s); }

// The same message with its padding bytes zeroed: what serialize() writes
// (RFC 8489 §14 lets senders pick any padding; sigkit always writes 0).
std::vector<std::byte> zero_padding(std::vector<std::byte> b, std::initializer_list<std::size_t> offsets) {
  for (auto o : offsets) b[o] = std::byte{0};
  return b;
}

}  // namespace

TEST_CASE("RFC 5769 §2.1 sample request parses and authenticates", "[stun][rfc5769]") {
  auto parsed = parse(sample_request);
  REQUIRE(parsed.ok());
  const message& m = *parsed;
  CHECK(m.method_ == method::binding);
  CHECK(m.class_ == message_class::request);
  CHECK(m.transaction_id_ == rfc_tid);
  CHECK(m.software().value() == "STUN test client");
  CHECK(m.username().value() == "evtj:h6vY");  // the spaces were padding, not value
  CHECK(m.get_u32(attribute_type::priority).value() == 0x6e0001ffU);
  CHECK(m.get_u64(attribute_type::ice_controlled).value() == 0x932ff9b151263b36ULL);
  CHECK(m.has(attribute_type::message_integrity));
  CHECK(m.has(attribute_type::fingerprint));
  CHECK(m.unknown_comprehension_required().empty());

  const auto key = short_term_key(short_term_password);
  REQUIRE(key.ok());
  CHECK(*key == key_bytes(short_term_password));  // ASCII: SASLprep changes nothing
  CHECK(verify_integrity(sample_request, *key) == check_result::valid);
  CHECK(verify_integrity(sample_request, key_bytes("VOkJxbRl1RmTxUk/WvJxBT")) == check_result::mismatch);
  CHECK(verify_fingerprint(sample_request) == check_result::valid);
}

TEST_CASE("RFC 5769 §2.1 re-serialized with the same key signs the same content", "[stun][rfc5769]") {
  const auto key = short_term_key(short_term_password).value();
  const auto again = serialize(parse(sample_request).value(), {key, true});
  // USERNAME's three padding spaces (bytes 73-75) become zeros; HMAC and
  // CRC cover padding, so MI and FINGERPRINT are recomputed over that.
  const auto expected_prefix = zero_padding(sample_request, {73, 74, 75});
  REQUIRE(again.size() == sample_request.size());
  CHECK(std::equal(again.begin(), again.begin() + 76, expected_prefix.begin()));
  CHECK(verify_integrity(again, key) == check_result::valid);
  CHECK(verify_fingerprint(again) == check_result::valid);

  // The trailers differ from the RFC's only because the padding does: the
  // HMAC covers padding, so putting the RFC's spaces back into our bytes
  // breaks our MI, while parse() still ignores what the padding holds.
  CHECK_FALSE(std::equal(again.begin() + 76, again.end(), sample_request.begin() + 76));
  auto spliced = again;
  for (std::size_t i : {73U, 74U, 75U}) spliced[i] = std::byte{0x20};
  CHECK(verify_integrity(spliced, key) == check_result::mismatch);  // padding is covered
  CHECK(parse(spliced).ok());                                        // but ignored by parse
}

TEST_CASE("RFC 5769 §2.2 IPv4 response", "[stun][rfc5769]") {
  auto parsed = parse(ipv4_response);
  REQUIRE(parsed.ok());
  const message& m = *parsed;
  CHECK(m.method_ == method::binding);
  CHECK(m.class_ == message_class::success_response);
  CHECK(m.transaction_id_ == rfc_tid);
  CHECK(m.software().value() == "test vector");
  const auto mapped = m.xor_mapped_address();
  REQUIRE(mapped.ok());
  CHECK(mapped->to_string() == "192.0.2.1:32853");
  CHECK(*mapped == address::ipv4({192, 0, 2, 1}, 32853));

  const auto key = short_term_key(short_term_password).value();
  CHECK(verify_integrity(ipv4_response, key) == check_result::valid);
  CHECK(verify_fingerprint(ipv4_response) == check_result::valid);

  // Built from scratch: same bytes up to MI except SOFTWARE's padding byte.
  message built = binding_success(rfc_tid, address::ipv4({192, 0, 2, 1}, 32853));
  built.attributes_.insert(built.attributes_.begin(), attribute{attribute_type::software, key_bytes("test vector")});
  const auto out = serialize(built, {key, true});
  const auto expected_prefix = zero_padding(ipv4_response, {35});
  REQUIRE(out.size() == ipv4_response.size());
  CHECK(std::equal(out.begin(), out.begin() + 48, expected_prefix.begin()));
  // The XOR-MAPPED-ADDRESS value itself matches the RFC byte for byte.
  CHECK(std::equal(out.begin() + 36, out.begin() + 48, ipv4_response.begin() + 36));
  CHECK(verify_integrity(out, key) == check_result::valid);
  CHECK(verify_fingerprint(out) == check_result::valid);
}

TEST_CASE("RFC 5769 §2.3 IPv6 response", "[stun][rfc5769]") {
  auto parsed = parse(ipv6_response);
  REQUIRE(parsed.ok());
  const auto mapped = parsed->xor_mapped_address();
  REQUIRE(mapped.ok());
  CHECK(mapped->family_ == address_family::ipv6);
  CHECK(mapped->to_string() == "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  CHECK(*mapped == address::from_string("2001:db8:1234:5678:11:2233:4455:6677", 32853).value());

  const auto key = short_term_key(short_term_password).value();
  CHECK(verify_integrity(ipv6_response, key) == check_result::valid);
  CHECK(verify_fingerprint(ipv6_response) == check_result::valid);

  const auto out = serialize(*parsed, {key, true});
  const auto expected_prefix = zero_padding(ipv6_response, {35});
  REQUIRE(out.size() == ipv6_response.size());
  CHECK(std::equal(out.begin(), out.begin() + 60, expected_prefix.begin()));
  CHECK(verify_integrity(out, key) == check_result::valid);
  CHECK(verify_fingerprint(out) == check_result::valid);

  // Encoding the address ourselves reproduces the RFC's X-Address.
  message built = binding_success(rfc_tid, *mapped);
  CHECK(built.attributes_.at(0).value_ ==
        std::vector<std::byte>(ipv6_response.begin() + 40, ipv6_response.begin() + 60));
}

TEST_CASE("RFC 5769 §2.4 long-term request: SASLprep, MD5 key, exact bytes", "[stun][rfc5769]") {
  auto parsed = parse(long_term_request);
  REQUIRE(parsed.ok());
  const message& m = *parsed;
  CHECK(m.username().value() == lt_username);
  CHECK(m.nonce().value() == "f//499k954d6OL34oL9FSTvy64sA");
  CHECK(m.realm().value() == "example.org");
  CHECK_FALSE(m.has(attribute_type::fingerprint));
  CHECK(verify_fingerprint(long_term_request) == check_result::absent);

  CHECK(saslprep(lt_password).value() == "TheMatrIX");
  const auto key = long_term_key(lt_username, "example.org", lt_password);
  REQUIRE(key.ok());
  // MD5("マトリックス:example.org:TheMatrIX"), computed independently with
  // `printf '%s' 'マトリックス:example.org:TheMatrIX' | openssl dgst -md5`.
  CHECK(*key == hex("e8ca7ad59d5eb0518e312911d2dab2a9"));
  CHECK(verify_integrity(long_term_request, *key) == check_result::valid);

  // Without SASLprep the key is wrong: the RFC vector requires it.
  const auto raw_key = long_term_key(lt_username, "example.org", lt_password, password_preparation::none);
  CHECK(verify_integrity(long_term_request, raw_key.value()) == check_result::mismatch);

  // Zero padding throughout, so re-serializing gives the RFC's bytes exactly.
  CHECK(serialize(m, {*key, false}) == long_term_request);

  // And so does building it from nothing.
  transaction_id tid{};
  const auto t = hex("78 ad 34 33 c6 ad 72 c0 29 da 41 2e");
  std::copy(t.begin(), t.end(), tid.begin());
  message built = binding_request(tid);
  built.add_string(attribute_type::username, lt_username)
      .add_string(attribute_type::nonce, "f//499k954d6OL34oL9FSTvy64sA")
      .add_string(attribute_type::realm, "example.org");
  CHECK(serialize(built, {*key, false}) == long_term_request);
}
