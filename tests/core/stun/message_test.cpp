// Message codec: type encoding, every attribute round trip, integrity and
// fingerprint failures, hostile framing.
#include "sigkit/stun/message.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>

#include "hex.hpp"

using namespace sigkit::stun;
using sigkit::stun::test::bytes_of;
using sigkit::stun::test::hex;

namespace {

transaction_id tid_of(std::uint8_t seed) {
  transaction_id t{};
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<std::byte>(seed + i * 17);
  return t;
}

const std::vector<std::byte> test_key = bytes_of("a key nobody guesses");

const address v4 = address::ipv4({203, 0, 113, 9}, 49152);
const address v6 = address::from_string("2001:db8::dead:beef", 3478).value();

// Where MESSAGE-INTEGRITY starts in a serialized message.
std::size_t integrity_offset(std::span<const std::byte> bytes) {
  std::size_t at = header_size;
  while (at + 4 <= bytes.size()) {
    const unsigned type = (std::to_integer<unsigned>(bytes[at]) << 8) | std::to_integer<unsigned>(bytes[at + 1]);
    if (type == 0x0008) return at;
    const std::size_t len = (std::to_integer<unsigned>(bytes[at + 2]) << 8) | std::to_integer<unsigned>(bytes[at + 3]);
    at += 4 + ((len + 3) & ~std::size_t{3});
  }
  return bytes.size();
}

void set_length(std::vector<std::byte>& b, std::size_t body) {
  b[2] = static_cast<std::byte>(body >> 8);
  b[3] = static_cast<std::byte>(body & 0xFF);
}

}  // namespace

TEST_CASE("message type interleaves method and class bits (RFC 8489 §5)", "[stun][message]") {
  CHECK(encode_message_type(method::binding, message_class::request) == 0x0001);
  CHECK(encode_message_type(method::binding, message_class::indication) == 0x0011);
  CHECK(encode_message_type(method::binding, message_class::success_response) == 0x0101);
  CHECK(encode_message_type(method::binding, message_class::error_response) == 0x0111);
  CHECK(encode_message_type(method::allocate, message_class::request) == 0x0003);
  CHECK(encode_message_type(method::allocate, message_class::error_response) == 0x0113);
  CHECK(encode_message_type(method::send, message_class::indication) == 0x0016);
  CHECK(encode_message_type(method::data, message_class::indication) == 0x0017);
  CHECK(encode_message_type(method::channel_bind, message_class::success_response) == 0x0109);
  CHECK(encode_message_type(static_cast<method>(0xFFF), message_class::error_response) == 0x3FFF);

  for (unsigned mv = 0; mv < 0x1000; ++mv) {
    for (unsigned cv = 0; cv < 4; ++cv) {
      const auto t = encode_message_type(static_cast<method>(mv), static_cast<message_class>(cv));
      REQUIRE((t & 0xC000) == 0);
      REQUIRE(static_cast<unsigned>(method_of(t)) == mv);
      REQUIRE(static_cast<unsigned>(class_of(t)) == cv);
    }
  }
}

TEST_CASE("XOR address encoding matches RFC 8489 §14.2 by hand", "[stun][message]") {
  // 192.0.2.1:32853 XOR 0x2112A442 -> port 0xA147, address e1 12 a6 43.
  transaction_id tid{};
  message m(method::binding, message_class::success_response, tid);
  m.add_address(attribute_type::xor_mapped_address, address::ipv4({192, 0, 2, 1}, 32853));
  CHECK(m.attributes_.at(0).value_ == hex("00 01 a1 47 e1 12 a6 43"));
  // The plain form carries the address as is.
  m.add_address(attribute_type::mapped_address, address::ipv4({192, 0, 2, 1}, 32853));
  CHECK(m.attributes_.at(1).value_ == hex("00 01 80 55 c0 00 02 01"));
}

TEST_CASE("every attribute type survives serialize and parse", "[stun][message]") {
  const auto tid = tid_of(7);
  for (const address& a : {v4, v6}) {
    message m(method::allocate, message_class::success_response, tid);
    m.add_address(attribute_type::xor_mapped_address, a)
        .add_address(attribute_type::xor_relayed_address, a)
        .add_address(attribute_type::xor_peer_address, a)
        .add_address(attribute_type::mapped_address, a)
        .add_address(attribute_type::other_address, a)
        .add_address(attribute_type::response_origin, a)
        .add_address(attribute_type::alternate_server, a)
        .add_error_code(438)
        .add_string(attribute_type::realm, "example.org")
        .add_string(attribute_type::nonce, "f//499k954d6OL34oL9FSTvy64sA")
        .add_string(attribute_type::username, "alice")
        .add_string(attribute_type::software, "sigkit test")
        .add_lifetime(600)
        .add_requested_transport(transport_protocol::tcp)
        .add_channel_number(0x4A5B)
        .add_bytes(attribute_type::data, hex("de ad be ef 01"))
        .add_change_request({true, false})
        .add_u32(attribute_type::priority, 0x6e0001ff)
        .add_bytes(attribute_type::unknown_attributes, hex("7f 01 00 31"));

    const auto bytes = serialize(m, {test_key, true});
    CHECK(verify_integrity(bytes, test_key) == check_result::valid);
    CHECK(verify_fingerprint(bytes) == check_result::valid);
    auto parsed = parse(bytes);
    REQUIRE(parsed.ok());
    const message& p = *parsed;
    CHECK(p.method_ == method::allocate);
    CHECK(p.class_ == message_class::success_response);
    CHECK(p.transaction_id_ == tid);
    CHECK(p.xor_mapped_address().value() == a);
    CHECK(p.xor_relayed_address().value() == a);
    CHECK(p.xor_peer_address().value() == a);
    CHECK(p.mapped_address().value() == a);
    CHECK(p.other_address().value() == a);
    CHECK(p.response_origin().value() == a);
    CHECK(p.alternate_server().value() == a);
    CHECK(p.error().value() == error_code{438, "Stale Nonce"});
    CHECK(p.realm().value() == "example.org");
    CHECK(p.nonce().value() == "f//499k954d6OL34oL9FSTvy64sA");
    CHECK(p.username().value() == "alice");
    CHECK(p.software().value() == "sigkit test");
    CHECK(p.lifetime().value() == 600);
    CHECK(p.requested_transport().value() == transport_protocol::tcp);
    CHECK(p.channel_number().value() == 0x4A5B);
    CHECK(std::vector<std::byte>(p.data()->begin(), p.data()->end()) == hex("de ad be ef 01"));
    CHECK(p.change_request_flags().value() == change_request{true, false});
    CHECK(p.get_u32(attribute_type::priority).value() == 0x6e0001ffU);
    CHECK(p.unknown_attributes().value() ==
          std::vector<attribute_type>{static_cast<attribute_type>(0x7F01), static_cast<attribute_type>(0x0031)});

    // Everything but the recomputed trailers is what we built.
    auto without_trailers = p;
    std::erase_if(without_trailers.attributes_, [](const attribute& x) {
      return x.type_ == attribute_type::message_integrity || x.type_ == attribute_type::fingerprint;
    });
    CHECK(without_trailers == m);
    // And re-serializing the parsed message is byte-identical.
    CHECK(serialize(p, {test_key, true}) == bytes);
  }
}

TEST_CASE("convenience constructors build what RFC 8656 asks for", "[stun][message]") {
  const auto tid = tid_of(1);
  const auto alloc = parse(serialize(allocate_request(tid))).value();
  CHECK(alloc.type() == 0x0003);
  CHECK(alloc.requested_transport().value() == transport_protocol::udp);

  const auto refresh = parse(serialize(refresh_request(tid, 0))).value();
  CHECK(refresh.method_ == method::refresh);
  CHECK(refresh.lifetime().value() == 0);

  const std::vector<address> peers{v4, v6};
  const auto perm = create_permission_request(tid, peers);
  REQUIRE(perm.attributes_.size() == 2);
  CHECK(perm.xor_peer_address().value() == v4);  // the first one counts for find()

  const auto bind = parse(serialize(channel_bind_request(tid, 0x4000, v6))).value();
  CHECK(bind.type() == 0x0009);
  CHECK(bind.channel_number().value() == 0x4000);
  CHECK(bind.xor_peer_address().value() == v6);

  const auto send = parse(serialize(send_indication(tid, v4, bytes_of("hello")))).value();
  CHECK(send.type() == 0x0016);
  CHECK(std::vector<std::byte>(send.data()->begin(), send.data()->end()) == bytes_of("hello"));

  const auto err = parse(serialize(error_response(method::allocate, tid, 401))).value();
  CHECK(err.type() == 0x0113);
  CHECK(err.error().value() == error_code{401, "Unauthenticated"});

  message auth = allocate_request(tid);
  auth.add_long_term_auth("user", "realm", "nonce");
  CHECK(auth.username().value() == "user");
  CHECK(auth.realm().value() == "realm");
  CHECK(auth.nonce().value() == "nonce");

  CHECK(random_transaction_id() != random_transaction_id());
}

TEST_CASE("padding is written as zeros and read as anything", "[stun][message]") {
  message m = binding_request(tid_of(3));
  m.add_string(attribute_type::software, "abc");
  auto bytes = serialize(m);
  REQUIRE(bytes.size() == 28);
  CHECK(bytes[27] == std::byte{0});
  bytes[27] = std::byte{0xFF};
  CHECK(parse(bytes)->software().value() == "abc");
}

TEST_CASE("unknown attributes are kept raw and comprehension-required ones reported", "[stun][message]") {
  message m = binding_request(tid_of(4));
  m.add_bytes(static_cast<attribute_type>(0x7F01), hex("01 02 03"))
      .add_bytes(static_cast<attribute_type>(0xC001), hex("04"))
      .add_bytes(static_cast<attribute_type>(0x7F01), hex("05"));
  const auto p = parse(serialize(m)).value();
  REQUIRE(p.attributes_.size() == 3);
  CHECK(p.attributes_[0].value_ == hex("01 02 03"));
  CHECK(p.get_bytes(static_cast<attribute_type>(0x7F01)).ok());
  CHECK(p.unknown_comprehension_required() == std::vector<attribute_type>{static_cast<attribute_type>(0x7F01)});
  CHECK(attribute_name(static_cast<attribute_type>(0x7F01)) == "0x7F01");
  CHECK(attribute_name(attribute_type::xor_relayed_address) == "XOR-RELAYED-ADDRESS");
  CHECK(method_name(method::create_permission) == "CreatePermission");
  CHECK(method_name(static_cast<method>(0x0FF)) == "0x0FF");
  CHECK(is_comprehension_required(attribute_type::username));
  CHECK_FALSE(is_comprehension_required(attribute_type::software));
}

TEST_CASE("typed readers tell missing from malformed", "[stun][message]") {
  message m = binding_request(tid_of(5));
  CHECK(m.xor_mapped_address().error() == attribute_error::missing);
  m.add_bytes(attribute_type::xor_mapped_address, hex("00 01 12 34 01 02 03"));      // IPv4, 3-byte address
  m.add_bytes(attribute_type::mapped_address, hex("00 03 12 34 01 02 03 04"));       // family 3
  m.add_bytes(attribute_type::other_address, hex("00 02 12 34 01 02 03 04"));        // IPv6 family, IPv4 size
  m.add_bytes(attribute_type::lifetime, hex("00 00 02"));
  m.add_bytes(attribute_type::error_code, hex("00 00 02 00"));                       // class 2
  m.add_bytes(attribute_type::requested_transport, hex("11"));
  m.add_bytes(attribute_type::channel_number, hex("40 00"));
  m.add_bytes(attribute_type::unknown_attributes, hex("00 01 02"));
  m.add_bytes(attribute_type::ice_controlling, hex("00 01 02"));
  CHECK(m.xor_mapped_address().error() == attribute_error::malformed);
  CHECK(m.mapped_address().error() == attribute_error::malformed);
  CHECK(m.other_address().error() == attribute_error::malformed);
  CHECK(m.lifetime().error() == attribute_error::malformed);
  CHECK(m.error().error() == attribute_error::malformed);
  CHECK(m.requested_transport().error() == attribute_error::malformed);
  CHECK(m.channel_number().error() == attribute_error::malformed);
  CHECK(m.unknown_attributes().error() == attribute_error::malformed);
  CHECK(m.get_u64(attribute_type::ice_controlling).error() == attribute_error::malformed);

  message e = binding_request(tid_of(5));
  e.add_bytes(attribute_type::error_code, hex("00 00 04 64"));  // number 100
  CHECK(e.error().error() == attribute_error::malformed);
}

TEST_CASE("error codes and reason phrases", "[stun][message]") {
  CHECK(reason_phrase(300) == "Try Alternate");
  CHECK(reason_phrase(401) == "Unauthenticated");
  CHECK(reason_phrase(403) == "Forbidden");
  CHECK(reason_phrase(437) == "Allocation Mismatch");
  CHECK(reason_phrase(438) == "Stale Nonce");
  CHECK(reason_phrase(441) == "Wrong Credentials");
  CHECK(reason_phrase(486) == "Allocation Quota Reached");
  CHECK(reason_phrase(508) == "Insufficient Capacity");
  CHECK(reason_phrase(499).empty());

  message m = error_response(method::binding, tid_of(6), 420, "Unknown Attribute");
  CHECK(m.attributes_.at(0).value_ == hex("00 00 04 14 55 6e 6b 6e 6f 77 6e 20 41 74 74 72 69 62 75 74 65"));
  CHECK_THROWS_AS(m.add_error_code(200), std::invalid_argument);
  CHECK_THROWS_AS(m.add_error_code(700), std::invalid_argument);
}

TEST_CASE("any altered byte breaks MESSAGE-INTEGRITY and FINGERPRINT", "[stun][integrity]") {
  message m = allocate_request(tid_of(8));
  m.add_long_term_auth("alice", "example.org", "nonce-1").add_string(attribute_type::software, "odd");
  const auto bytes = serialize(m, {test_key, true});
  REQUIRE(verify_integrity(bytes, test_key) == check_result::valid);
  REQUIRE(verify_fingerprint(bytes) == check_result::valid);

  const std::size_t mi = integrity_offset(bytes);
  REQUIRE(mi + 24 + 8 == bytes.size());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    auto flipped = bytes;
    flipped[i] ^= std::byte{0x01};
    // FINGERPRINT follows MESSAGE-INTEGRITY, so MI does not cover it.
    if (i < mi + 24) REQUIRE(verify_integrity(flipped, test_key) != check_result::valid);
    else REQUIRE(verify_integrity(flipped, test_key) == check_result::valid);
    REQUIRE(verify_fingerprint(flipped) != check_result::valid);
  }
  CHECK(verify_integrity(bytes, bytes_of("wrong key")) == check_result::mismatch);
  CHECK(verify_integrity(serialize(m), test_key) == check_result::absent);
  CHECK(verify_fingerprint(serialize(m)) == check_result::absent);
  CHECK(verify_integrity(hex("00 01"), test_key) == check_result::malformed);

  // An empty key is a key like any other.
  const auto empty_keyed = serialize(m, {std::vector<std::byte>{}, false});
  CHECK(verify_integrity(empty_keyed, {}) == check_result::valid);
  CHECK(verify_integrity(empty_keyed, test_key) == check_result::mismatch);
}

TEST_CASE("attributes after MESSAGE-INTEGRITY or FINGERPRINT are ignored", "[stun][integrity]") {
  message m = refresh_request(tid_of(9), 600);
  auto bytes = serialize(m, {test_key, false});
  // An attacker appends LIFETIME 0 after MESSAGE-INTEGRITY.
  const auto extra = hex("00 0d 00 04 00 00 00 00");
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  set_length(bytes, bytes.size() - header_size);
  CHECK(verify_integrity(bytes, test_key) == check_result::valid);
  const auto p = parse(bytes).value();
  CHECK(p.lifetime().value() == 600);
  CHECK(p.attributes_.size() == 2);  // LIFETIME, MESSAGE-INTEGRITY

  auto fp = serialize(m, {std::nullopt, true});
  fp.insert(fp.end(), extra.begin(), extra.end());
  set_length(fp, fp.size() - header_size);
  CHECK(verify_fingerprint(fp) == check_result::valid);  // computed as if FINGERPRINT were last
  CHECK(parse(fp).value().attributes_.back().type_ == attribute_type::fingerprint);
}

TEST_CASE("hostile framing is rejected with a reason, never a crash", "[stun][parse]") {
  const auto good = serialize(binding_request(tid_of(10)).add_string(attribute_type::software, "abcd"));
  REQUIRE(parse(good).ok());

  auto code_of = [](std::span<const std::byte> b) { return parse(b).error().code_; };

  CHECK(code_of({}) == parse_errc::truncated_header);
  CHECK(code_of(std::span(good).first(19)) == parse_errc::truncated_header);
  CHECK(code_of(std::span(good).first(good.size() - 4)) == parse_errc::truncated_message);

  auto trailing = good;
  trailing.push_back(std::byte{0});
  CHECK(code_of(trailing) == parse_errc::trailing_bytes);

  auto cookie = good;
  cookie[4] = std::byte{0x21};
  cookie[7] = std::byte{0x43};
  CHECK(code_of(cookie) == parse_errc::bad_magic_cookie);

  auto top_bits = good;
  top_bits[0] = std::byte{0x80};
  CHECK(code_of(top_bits) == parse_errc::not_stun);

  auto odd_length = good;
  odd_length.pop_back();
  set_length(odd_length, odd_length.size() - header_size);
  CHECK(code_of(odd_length) == parse_errc::length_not_multiple_of_4);

  auto long_attr = good;
  long_attr[23] = std::byte{0x09};  // SOFTWARE claims 9 bytes; the message has 8 after its header
  CHECK(code_of(long_attr) == parse_errc::truncated_attribute);
  CHECK(parse(long_attr).error().offset_ == 20);

  auto huge_attr = good;
  huge_attr[22] = std::byte{0xFF};
  huge_attr[23] = std::byte{0xFF};
  CHECK(code_of(huge_attr) == parse_errc::truncated_attribute);

  // Attribute header cut short: length 4 leaves room for only the T and L.
  auto short_body = hex("00 01 00 04 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 00 80 22 00 01");
  CHECK(code_of(short_body) == parse_errc::truncated_attribute);

  std::vector<std::byte> oversized(max_message_size + 1, std::byte{0});
  CHECK(code_of(oversized) == parse_errc::too_large);
  std::vector<std::byte> one_megabyte(1 << 20, std::byte{0});
  CHECK(code_of(one_megabyte) == parse_errc::too_large);

  CHECK(to_string(parse(long_attr).error()) == "truncated attribute at byte 20");
  CHECK(looks_like_stun(good));
  CHECK_FALSE(looks_like_stun(cookie));
}

TEST_CASE("serialize refuses what cannot be encoded", "[stun][message]") {
  message m = binding_request(tid_of(11));
  std::vector<std::byte> big(65536);
  CHECK_THROWS_AS(m.add_bytes(attribute_type::data, big), std::length_error);
  big.resize(40000);
  m.add_bytes(attribute_type::data, big).add_bytes(attribute_type::data, big);
  CHECK_THROWS_AS(serialize(m), std::length_error);

  // The largest message that fits is accepted, with room kept for the trailers.
  message fits = binding_request(tid_of(11));
  fits.add_bytes(attribute_type::data, std::vector<std::byte>(max_body_size - 4 - 24 - 8));
  const auto out = serialize(fits, {test_key, true});
  CHECK(out.size() == max_message_size);
  CHECK(parse(out).ok());
  fits.add_bytes(attribute_type::padding, {});
  CHECK_THROWS_AS(serialize(fits, {test_key, true}), std::length_error);
  CHECK(serialize(fits).size() == max_message_size - 24 - 8 + 4);  // fine without the trailers
}
