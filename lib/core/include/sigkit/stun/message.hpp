// STUN/TURN message codec (RFC 8489, RFC 8656, RFC 5780; wire-compatible with
// RFC 5389 and RFC 5766). Sans-I/O: bytes in, values out, no sockets and no
// clocks, so sigprobe, the tests and the fuzzer all drive the same code.
//
// RFC 8489 §5: every message starts with a 20-byte header.
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0 0|     STUN Message Type     |         Message Length        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                         Magic Cookie                          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                                                               |
//  |                     Transaction ID (96 bits)                  |
//  |                                                               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// RFC 8489 §14: then attributes, each padded to a multiple of 4 bytes.
//
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |         Type                  |            Length             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                         Value (variable)                ....
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sigkit/result.hpp"
#include "sigkit/stun/address.hpp"

namespace sigkit::stun {

inline constexpr std::uint32_t magic_cookie = 0x2112A442;
inline constexpr std::size_t header_size = 20;
// The Message Length field is 16 bits and a multiple of 4 (RFC 8489 §5).
inline constexpr std::size_t max_body_size = 65532;
inline constexpr std::size_t max_message_size = header_size + max_body_size;

using transaction_id = std::array<std::byte, 12>;

// Fresh 96-bit id from OpenSSL's CSPRNG. RFC 8489 §6: the id MUST be
// uniformly and randomly chosen, which also makes spoofed responses hard.
transaction_id random_transaction_id();

// 12-bit method. An enum class holds any 12-bit value, so unknown methods
// survive a parse/serialize round trip.
enum class method : std::uint16_t {
  binding = 0x001,            // RFC 8489
  allocate = 0x003,           // RFC 8656
  refresh = 0x004,
  send = 0x006,
  data = 0x007,
  create_permission = 0x008,
  channel_bind = 0x009,
  connect = 0x00A,            // RFC 6062 (TURN TCP)
  connection_bind = 0x00B,
  connection_attempt = 0x00C,
};

enum class message_class : std::uint8_t {
  request = 0b00,
  indication = 0b01,
  success_response = 0b10,
  error_response = 0b11,
};

// RFC 8489 §5: the class bits C1 C0 are interleaved with the method bits.
//   0                 1
//   2  3  4 5 6 7 8 9 0 1 2 3 4 5
//  +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
//  |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
//  |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
//  +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
std::uint16_t encode_message_type(method m, message_class c) noexcept;
method method_of(std::uint16_t type) noexcept;
message_class class_of(std::uint16_t type) noexcept;

enum class attribute_type : std::uint16_t {
  // Comprehension-required (0x0000-0x7FFF)
  mapped_address = 0x0001,            // RFC 8489 §14.1
  change_request = 0x0003,            // RFC 5780 §7.2
  username = 0x0006,                  // RFC 8489 §14.3
  message_integrity = 0x0008,         // RFC 8489 §14.5
  error_code = 0x0009,                // RFC 8489 §14.8
  unknown_attributes = 0x000A,        // RFC 8489 §14.13
  channel_number = 0x000C,            // RFC 8656 §18.1
  lifetime = 0x000D,                  // RFC 8656 §18.2
  xor_peer_address = 0x0012,          // RFC 8656 §18.3
  data = 0x0013,                      // RFC 8656 §18.4
  realm = 0x0014,                     // RFC 8489 §14.9
  nonce = 0x0015,                     // RFC 8489 §14.10
  xor_relayed_address = 0x0016,       // RFC 8656 §18.5
  requested_address_family = 0x0017,  // RFC 8656 §18.6
  even_port = 0x0018,                 // RFC 8656 §18.7
  requested_transport = 0x0019,       // RFC 8656 §18.8
  dont_fragment = 0x001A,             // RFC 8656 §18.9
  message_integrity_sha256 = 0x001C,  // RFC 8489 §14.6
  password_algorithm = 0x001D,        // RFC 8489 §14.12
  userhash = 0x001E,                  // RFC 8489 §14.4
  xor_mapped_address = 0x0020,        // RFC 8489 §14.2
  reservation_token = 0x0022,         // RFC 8656 §18.10
  priority = 0x0024,                  // RFC 8445 §16.1
  use_candidate = 0x0025,
  padding = 0x0026,                   // RFC 5780 §7.6
  response_port = 0x0027,             // RFC 5780 §7.5
  connection_id = 0x002A,             // RFC 6062 §6.2.1
  // Comprehension-optional (0x8000-0xFFFF)
  password_algorithms = 0x8002,       // RFC 8489 §14.11
  alternate_domain = 0x8003,          // RFC 8489 §14.16
  software = 0x8022,                  // RFC 8489 §14.14
  alternate_server = 0x8023,          // RFC 8489 §14.15
  cache_timeout = 0x8027,             // RFC 5780 §7.7
  fingerprint = 0x8028,               // RFC 8489 §14.7
  ice_controlled = 0x8029,            // RFC 8445 §16.1
  ice_controlling = 0x802A,
  response_origin = 0x802B,           // RFC 5780 §7.3
  other_address = 0x802C,             // RFC 5780 §7.4
};

// RFC 8489 §14: types below 0x8000 must be understood or the request fails
// with 420 (Unknown Attribute).
constexpr bool is_comprehension_required(attribute_type t) noexcept {
  return static_cast<std::uint16_t>(t) < 0x8000;
}
// True for the attribute types this codec decodes (the list above).
bool is_known(attribute_type t) noexcept;
// "XOR-MAPPED-ADDRESS", or "0x7F01" for an unknown type.
std::string attribute_name(attribute_type t);
// "Binding", "Allocate", ... or "0x0FF" for an unknown method.
std::string method_name(method m);
std::string_view class_name(message_class c) noexcept;

// An attribute as it travels: type and value, padding removed. Unknown
// attributes stay in this form; typed readers decode known ones on demand.
struct attribute {
  attribute_type type_{};
  std::vector<std::byte> value_;

  friend bool operator==(const attribute&, const attribute&) = default;
};

// RFC 8489 §14.8: 300-699, class = hundreds, number = the rest.
struct error_code {
  int code_ = 0;
  std::string reason_;

  friend bool operator==(const error_code&, const error_code&) = default;
};

// The standard reason phrase for a STUN/TURN error code ("Stale Nonce" for
// 438), or "" when the code is not registered.
std::string_view reason_phrase(int code) noexcept;

// RFC 8656 §18.8: IANA protocol numbers.
enum class transport_protocol : std::uint8_t { tcp = 6, udp = 17 };

// RFC 5780 §7.2 CHANGE-REQUEST flags.
struct change_request {
  bool change_ip_ = false;    // A = 0x4
  bool change_port_ = false;  // B = 0x2

  friend bool operator==(const change_request&, const change_request&) = default;
};

// Why a typed attribute could not be read.
enum class attribute_error {
  missing,    // the message does not carry it
  malformed,  // present, but its value has the wrong length or layout
};
std::string_view to_string(attribute_error e) noexcept;

template <class T>
using attribute_result = result<T, attribute_error>;

class message {
 public:
  message() = default;
  message(method m, message_class c, const transaction_id& tid);

  method method_ = method::binding;
  message_class class_ = message_class::request;
  transaction_id transaction_id_{};
  // In wire order. After parse() this includes MESSAGE-INTEGRITY and
  // FINGERPRINT if they were present (so callers can see they were);
  // serialize() never copies those two from here, it recomputes them.
  std::vector<attribute> attributes_;

  std::uint16_t type() const noexcept { return encode_message_type(method_, class_); }

  // --- building -----------------------------------------------------------
  // Each returns *this so a request reads as one expression. Values longer
  // than an attribute can hold (65535 bytes) are a programming error and
  // throw std::length_error.
  message& add_bytes(attribute_type t, std::span<const std::byte> value);
  message& add_string(attribute_type t, std::string_view value);  // USERNAME, REALM, NONCE, SOFTWARE...
  // Picks the plain or XOR encoding from the type: XOR-MAPPED-ADDRESS,
  // XOR-PEER-ADDRESS and XOR-RELAYED-ADDRESS are XORed with this message's
  // cookie and transaction id, so set transaction_id_ first.
  message& add_address(attribute_type t, const address& a);
  message& add_u32(attribute_type t, std::uint32_t v);  // LIFETIME, PRIORITY...
  message& add_error_code(int code, std::string_view reason = {});  // reason defaults to reason_phrase(code)
  message& add_requested_transport(transport_protocol p);
  message& add_channel_number(std::uint16_t channel);
  message& add_change_request(change_request flags);
  message& add_lifetime(std::uint32_t seconds) { return add_u32(attribute_type::lifetime, seconds); }
  // USERNAME, REALM and NONCE for the long-term mechanism (RFC 8489 §9.2.3);
  // serialize with the matching long_term_key().
  message& add_long_term_auth(std::string_view username, std::string_view realm, std::string_view nonce);

  // --- reading ------------------------------------------------------------
  // RFC 8489 §14: only the first occurrence of an attribute counts.
  const attribute* find(attribute_type t) const noexcept;
  bool has(attribute_type t) const noexcept { return find(t) != nullptr; }

  attribute_result<std::span<const std::byte>> get_bytes(attribute_type t) const;
  attribute_result<std::string_view> get_string(attribute_type t) const;
  attribute_result<address> get_address(attribute_type t) const;  // plain or XOR by type
  attribute_result<std::uint32_t> get_u32(attribute_type t) const;
  attribute_result<std::uint64_t> get_u64(attribute_type t) const;  // ICE-CONTROLLED/-CONTROLLING

  attribute_result<address> xor_mapped_address() const { return get_address(attribute_type::xor_mapped_address); }
  attribute_result<address> xor_relayed_address() const { return get_address(attribute_type::xor_relayed_address); }
  attribute_result<address> xor_peer_address() const { return get_address(attribute_type::xor_peer_address); }
  attribute_result<address> mapped_address() const { return get_address(attribute_type::mapped_address); }
  attribute_result<address> other_address() const { return get_address(attribute_type::other_address); }
  attribute_result<address> response_origin() const { return get_address(attribute_type::response_origin); }
  attribute_result<address> alternate_server() const { return get_address(attribute_type::alternate_server); }
  attribute_result<std::string_view> username() const { return get_string(attribute_type::username); }
  attribute_result<std::string_view> realm() const { return get_string(attribute_type::realm); }
  attribute_result<std::string_view> nonce() const { return get_string(attribute_type::nonce); }
  attribute_result<std::string_view> software() const { return get_string(attribute_type::software); }
  attribute_result<std::uint32_t> lifetime() const { return get_u32(attribute_type::lifetime); }
  attribute_result<std::span<const std::byte>> data() const { return get_bytes(attribute_type::data); }
  attribute_result<error_code> error() const;
  attribute_result<transport_protocol> requested_transport() const;
  attribute_result<std::uint16_t> channel_number() const;
  attribute_result<change_request> change_request_flags() const;
  attribute_result<std::vector<attribute_type>> unknown_attributes() const;  // from a 420

  // Comprehension-required types this codec does not know: what a server
  // lists in UNKNOWN-ATTRIBUTES, and what a client should treat as fatal
  // in a response (RFC 8489 §7.3.3).
  std::vector<attribute_type> unknown_comprehension_required() const;

  friend bool operator==(const message&, const message&) = default;
};

// --- convenient constructors ------------------------------------------------
message binding_request(const transaction_id& tid);
// RFC 8656 §7.1: REQUESTED-TRANSPORT is mandatory; UDP relays unless told.
message allocate_request(const transaction_id& tid, transport_protocol p = transport_protocol::udp);
// RFC 8656 §7.3: LIFETIME 0 deletes the allocation.
message refresh_request(const transaction_id& tid, std::uint32_t lifetime_seconds);
// RFC 8656 §9.1: one XOR-PEER-ADDRESS per peer; ports are ignored.
message create_permission_request(const transaction_id& tid, std::span<const address> peers);
message channel_bind_request(const transaction_id& tid, std::uint16_t channel, const address& peer);
message send_indication(const transaction_id& tid, const address& peer, std::span<const std::byte> data);
message binding_success(const transaction_id& tid, const address& reflexive);
message error_response(method m, const transaction_id& tid, int code, std::string_view reason = {});

// --- parse / serialize ------------------------------------------------------
enum class parse_errc {
  truncated_header,          // fewer than 20 bytes
  too_large,                 // more bytes than any STUN message can have
  not_stun,                  // top two bits of the type are not 00
  bad_magic_cookie,          // not 0x2112A442 (RFC 3489 servers land here)
  length_not_multiple_of_4,  // RFC 8489 §5: the length is always padded
  truncated_message,         // fewer bytes than the header's length says
  trailing_bytes,            // more bytes than the header's length says
  truncated_attribute,       // attribute header or value runs past the end
};
struct parse_error {
  parse_errc code_;
  std::size_t offset_ = 0;  // byte offset where the problem was found
};
std::string_view to_string(parse_errc e) noexcept;
std::string to_string(const parse_error& e);  // "truncated attribute at byte 44"

// Parses exactly one message: the span must hold the whole datagram or
// frame, no more, no less. Padding bytes are skipped whatever they hold
// (RFC 5769 pads USERNAME with spaces). Per RFC 8489 §14.5 and §14.7,
// attributes after MESSAGE-INTEGRITY (except MESSAGE-INTEGRITY-SHA256 and
// FINGERPRINT) and anything after FINGERPRINT are not authenticated and
// are dropped from attributes_; the framing must still be valid.
result<message, parse_error> parse(std::span<const std::byte> bytes);

// Cheap test for demultiplexing a datagram (RFC 7983 §7): 00 top bits,
// the magic cookie, a sane length. Does not walk the attributes.
bool looks_like_stun(std::span<const std::byte> bytes) noexcept;

struct serialize_options {
  // HMAC-SHA1 key for MESSAGE-INTEGRITY: long_term_key() or short_term_key().
  std::optional<std::vector<std::byte>> integrity_key_;
  bool fingerprint_ = false;
};

// Writes the header and attributes in order with zero padding, then
// MESSAGE-INTEGRITY (if a key is given) and FINGERPRINT (if asked). Any
// MESSAGE-INTEGRITY(-SHA256) or FINGERPRINT in attributes_ is skipped, so a
// parsed message can be re-signed. Throws std::length_error if the result
// would exceed max_message_size (a programming error: the caller built it).
std::vector<std::byte> serialize(const message& m, const serialize_options& options = {});

// --- integrity and fingerprint ----------------------------------------------
enum class check_result {
  valid,
  absent,     // the message carries no such attribute
  mismatch,   // the attribute is there and wrong: wrong key, or altered bytes
  malformed,  // the bytes are not a well-formed STUN message, or the value has the wrong size
};
std::string_view to_string(check_result r) noexcept;

// RFC 8489 §14.5: HMAC-SHA1 over the message up to MESSAGE-INTEGRITY, with
// the header length set as if MESSAGE-INTEGRITY were the last attribute.
// Works on the received bytes (not a re-serialization), so padding and
// order are exactly what the sender signed. Compared in constant time.
check_result verify_integrity(std::span<const std::byte> bytes, std::span<const std::byte> key);
// RFC 8489 §14.7: CRC-32 of the message up to FINGERPRINT, XOR 0x5354554E,
// with the header length already counting FINGERPRINT.
check_result verify_fingerprint(std::span<const std::byte> bytes);

// The CRC-32 (ISO-HDLC, as in zlib and Ethernet) FINGERPRINT is built on,
// exposed for tests.
std::uint32_t crc32(std::span<const std::byte> bytes) noexcept;

}  // namespace sigkit::stun
