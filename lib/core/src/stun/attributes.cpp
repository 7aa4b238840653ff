// Typed attribute values: building them into a message and reading them
// back, plus the names and reason phrases a probe prints.
#include "sigkit/stun/message.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "wire.hpp"

namespace sigkit::stun {

namespace {

constexpr bool is_xor_address(attribute_type t) noexcept {
  return t == attribute_type::xor_mapped_address || t == attribute_type::xor_peer_address ||
         t == attribute_type::xor_relayed_address;
}

// RFC 8489 §14.2: the XOR mask is the magic cookie followed by the
// transaction id; IPv4 uses its first 4 bytes, the port its first 2.
std::array<std::uint8_t, 16> xor_mask(const transaction_id& tid) noexcept {
  std::array<std::uint8_t, 16> mask{0x21, 0x12, 0xA4, 0x42};
  for (std::size_t i = 0; i < tid.size(); ++i) mask[4 + i] = std::to_integer<std::uint8_t>(tid[i]);
  return mask;
}

std::string hex_name(unsigned v, int digits) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

}  // namespace

std::string_view to_string(attribute_error e) noexcept {
  return e == attribute_error::missing ? "missing" : "malformed";
}

// --- building ----------------------------------------------------------------

message& message::add_bytes(attribute_type t, std::span<const std::byte> value) {
  if (value.size() > 0xFFFF) throw std::length_error("STUN attribute value longer than 65535 bytes");
  attributes_.push_back(attribute{t, std::vector<std::byte>(value.begin(), value.end())});
  return *this;
}

message& message::add_string(attribute_type t, std::string_view value) {
  return add_bytes(t, std::as_bytes(std::span(value.data(), value.size())));
}

//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |0 0 0 0 0 0 0 0|    Family     |     Port (X-Port if XOR)      |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          Address, 32 or 128 bits (X-Address if XOR)           |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
message& message::add_address(attribute_type t, const address& a) {
  const bool x = is_xor_address(t);
  const auto mask = xor_mask(transaction_id_);
  std::vector<std::byte> v;
  v.push_back(std::byte{0});
  v.push_back(static_cast<std::byte>(a.family_));
  // RFC 8489 §14.2: X-Port is the port XOR the top 16 bits of the cookie.
  wire::put_u16(v, x ? static_cast<std::uint16_t>(a.port_ ^ (magic_cookie >> 16)) : a.port_);
  for (std::size_t i = 0; i < a.octet_count(); ++i)
    v.push_back(static_cast<std::byte>(x ? a.octets_[i] ^ mask[i] : a.octets_[i]));
  return add_bytes(t, v);
}

message& message::add_u32(attribute_type t, std::uint32_t value) {
  std::vector<std::byte> v;
  wire::put_u32(v, value);
  return add_bytes(t, v);
}

//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           Reserved, should be 0         |Class|     Number    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |      Reason Phrase (variable)                                ..
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
message& message::add_error_code(int code, std::string_view reason) {
  // RFC 8489 §14.8: class 3-6, number 0-99. Anything else is a caller bug.
  if (code < 300 || code > 699) throw std::invalid_argument("STUN error code outside 300-699");
  if (reason.empty()) reason = reason_phrase(code);
  std::vector<std::byte> v{std::byte{0}, std::byte{0}, static_cast<std::byte>(code / 100),
                           static_cast<std::byte>(code % 100)};
  const auto r = std::as_bytes(std::span(reason.data(), reason.size()));
  v.insert(v.end(), r.begin(), r.end());
  return add_bytes(attribute_type::error_code, v);
}

// RFC 8656 §18.8: protocol number, then 24 reserved bits (RFFU).
message& message::add_requested_transport(transport_protocol p) {
  const std::byte v[4] = {static_cast<std::byte>(p), std::byte{0}, std::byte{0}, std::byte{0}};
  return add_bytes(attribute_type::requested_transport, v);
}

// RFC 8656 §18.1: channel number, then 16 reserved bits (RFFU).
message& message::add_channel_number(std::uint16_t channel) {
  return add_u32(attribute_type::channel_number, static_cast<std::uint32_t>(channel) << 16);
}

// RFC 5780 §7.2: ...0 A B 0, A = change IP, B = change port.
message& message::add_change_request(change_request flags) {
  return add_u32(attribute_type::change_request, (flags.change_ip_ ? 0x4U : 0U) | (flags.change_port_ ? 0x2U : 0U));
}

message& message::add_long_term_auth(std::string_view username, std::string_view realm, std::string_view nonce) {
  add_string(attribute_type::username, username);
  add_string(attribute_type::realm, realm);
  return add_string(attribute_type::nonce, nonce);
}

// --- reading -----------------------------------------------------------------

const attribute* message::find(attribute_type t) const noexcept {
  const auto it = std::find_if(attributes_.begin(), attributes_.end(), [t](const attribute& a) { return a.type_ == t; });
  return it == attributes_.end() ? nullptr : &*it;
}

attribute_result<std::span<const std::byte>> message::get_bytes(attribute_type t) const {
  const auto* a = find(t);
  if (a == nullptr) return attribute_error::missing;
  return std::span<const std::byte>(a->value_);
}

attribute_result<std::string_view> message::get_string(attribute_type t) const {
  const auto* a = find(t);
  if (a == nullptr) return attribute_error::missing;
  return std::string_view(reinterpret_cast<const char*>(a->value_.data()), a->value_.size());
}

attribute_result<address> message::get_address(attribute_type t) const {
  const auto* a = find(t);
  if (a == nullptr) return attribute_error::missing;
  const auto& v = a->value_;
  if (v.size() < 4) return attribute_error::malformed;
  // The first byte MUST be ignored by receivers (RFC 8489 §14.1).
  const auto family = static_cast<address_family>(v[1]);
  address out;
  out.family_ = family;
  if (family == address_family::ipv4) {
    if (v.size() != 8) return attribute_error::malformed;
  } else if (family == address_family::ipv6) {
    if (v.size() != 20) return attribute_error::malformed;
  } else {
    return attribute_error::malformed;
  }
  const bool x = is_xor_address(t);
  const auto mask = xor_mask(transaction_id_);
  const std::uint16_t port = wire::read_u16(v, 2);
  out.port_ = x ? static_cast<std::uint16_t>(port ^ (magic_cookie >> 16)) : port;
  for (std::size_t i = 0; i < out.octet_count(); ++i) {
    const auto o = std::to_integer<std::uint8_t>(v[4 + i]);
    out.octets_[i] = static_cast<std::uint8_t>(x ? o ^ mask[i] : o);
  }
  return out;
}

attribute_result<std::uint32_t> message::get_u32(attribute_type t) const {
  const auto* a = find(t);
  if (a == nullptr) return attribute_error::missing;
  if (a->value_.size() != 4) return attribute_error::malformed;
  return wire::read_u32(a->value_, 0);
}

attribute_result<std::uint64_t> message::get_u64(attribute_type t) const {
  const auto* a = find(t);
  if (a == nullptr) return attribute_error::missing;
  if (a->value_.size() != 8) return attribute_error::malformed;
  return (static_cast<std::uint64_t>(wire::read_u32(a->value_, 0)) << 32) | wire::read_u32(a->value_, 4);
}

attribute_result<error_code> message::error() const {
  const auto* a = find(attribute_type::error_code);
  if (a == nullptr) return attribute_error::missing;
  const auto& v = a->value_;
  if (v.size() < 4) return attribute_error::malformed;
  const int cls = std::to_integer<int>(v[2]) & 0x07;
  const int number = std::to_integer<int>(v[3]);
  if (cls < 3 || cls > 6 || number > 99) return attribute_error::malformed;
  return error_code{cls * 100 + number, std::string(reinterpret_cast<const char*>(v.data()) + 4, v.size() - 4)};
}

attribute_result<transport_protocol> message::requested_transport() const {
  const auto* a = find(attribute_type::requested_transport);
  if (a == nullptr) return attribute_error::missing;
  if (a->value_.size() != 4) return attribute_error::malformed;
  return static_cast<transport_protocol>(a->value_[0]);
}

attribute_result<std::uint16_t> message::channel_number() const {
  auto v = get_u32(attribute_type::channel_number);
  if (!v) return v.error();
  return static_cast<std::uint16_t>(*v >> 16);
}

attribute_result<change_request> message::change_request_flags() const {
  auto v = get_u32(attribute_type::change_request);
  if (!v) return v.error();
  return change_request{(*v & 0x4U) != 0, (*v & 0x2U) != 0};
}

// RFC 8489 §14.13: a list of 16-bit types. RFC 3489 padded it by repeating a
// type; a 2-byte tail is the only odd length tolerated.
attribute_result<std::vector<attribute_type>> message::unknown_attributes() const {
  const auto* a = find(attribute_type::unknown_attributes);
  if (a == nullptr) return attribute_error::missing;
  if (a->value_.size() % 2 != 0) return attribute_error::malformed;
  std::vector<attribute_type> out;
  for (std::size_t i = 0; i + 1 < a->value_.size(); i += 2)
    out.push_back(static_cast<attribute_type>(wire::read_u16(a->value_, i)));
  return out;
}

std::vector<attribute_type> message::unknown_comprehension_required() const {
  std::vector<attribute_type> out;
  for (const auto& a : attributes_)
    if (is_comprehension_required(a.type_) && !is_known(a.type_) &&
        std::find(out.begin(), out.end(), a.type_) == out.end())
      out.push_back(a.type_);
  return out;
}

// --- constructors --------------------------------------------------------------

message binding_request(const transaction_id& tid) { return message(method::binding, message_class::request, tid); }

message allocate_request(const transaction_id& tid, transport_protocol p) {
  message m(method::allocate, message_class::request, tid);
  m.add_requested_transport(p);
  return m;
}

message refresh_request(const transaction_id& tid, std::uint32_t lifetime_seconds) {
  message m(method::refresh, message_class::request, tid);
  m.add_lifetime(lifetime_seconds);
  return m;
}

message create_permission_request(const transaction_id& tid, std::span<const address> peers) {
  message m(method::create_permission, message_class::request, tid);
  for (const auto& p : peers) m.add_address(attribute_type::xor_peer_address, p);
  return m;
}

message channel_bind_request(const transaction_id& tid, std::uint16_t channel, const address& peer) {
  message m(method::channel_bind, message_class::request, tid);
  m.add_channel_number(channel);
  m.add_address(attribute_type::xor_peer_address, peer);
  return m;
}

message send_indication(const transaction_id& tid, const address& peer, std::span<const std::byte> data) {
  message m(method::send, message_class::indication, tid);
  m.add_address(attribute_type::xor_peer_address, peer);
  m.add_bytes(attribute_type::data, data);
  return m;
}

message binding_success(const transaction_id& tid, const address& reflexive) {
  message m(method::binding, message_class::success_response, tid);
  m.add_address(attribute_type::xor_mapped_address, reflexive);
  return m;
}

message error_response(method mth, const transaction_id& tid, int code, std::string_view reason) {
  message m(mth, message_class::error_response, tid);
  m.add_error_code(code, reason);
  return m;
}

// --- names -------------------------------------------------------------------

namespace {

struct attribute_info {
  attribute_type type;
  std::string_view name;
};

constexpr attribute_info attribute_table[] = {
    {attribute_type::mapped_address, "MAPPED-ADDRESS"},
    {attribute_type::change_request, "CHANGE-REQUEST"},
    {attribute_type::username, "USERNAME"},
    {attribute_type::message_integrity, "MESSAGE-INTEGRITY"},
    {attribute_type::error_code, "ERROR-CODE"},
    {attribute_type::unknown_attributes, "UNKNOWN-ATTRIBUTES"},
    {attribute_type::channel_number, "CHANNEL-NUMBER"},
    {attribute_type::lifetime, "LIFETIME"},
    {attribute_type::xor_peer_address, "XOR-PEER-ADDRESS"},
    {attribute_type::data, "DATA"},
    {attribute_type::realm, "REALM"},
    {attribute_type::nonce, "NONCE"},
    {attribute_type::xor_relayed_address, "XOR-RELAYED-ADDRESS"},
    {attribute_type::requested_address_family, "REQUESTED-ADDRESS-FAMILY"},
    {attribute_type::even_port, "EVEN-PORT"},
    {attribute_type::requested_transport, "REQUESTED-TRANSPORT"},
    {attribute_type::dont_fragment, "DONT-FRAGMENT"},
    {attribute_type::message_integrity_sha256, "MESSAGE-INTEGRITY-SHA256"},
    {attribute_type::password_algorithm, "PASSWORD-ALGORITHM"},
    {attribute_type::userhash, "USERHASH"},
    {attribute_type::xor_mapped_address, "XOR-MAPPED-ADDRESS"},
    {attribute_type::reservation_token, "RESERVATION-TOKEN"},
    {attribute_type::priority, "PRIORITY"},
    {attribute_type::use_candidate, "USE-CANDIDATE"},
    {attribute_type::padding, "PADDING"},
    {attribute_type::response_port, "RESPONSE-PORT"},
    {attribute_type::connection_id, "CONNECTION-ID"},
    {attribute_type::password_algorithms, "PASSWORD-ALGORITHMS"},
    {attribute_type::alternate_domain, "ALTERNATE-DOMAIN"},
    {attribute_type::software, "SOFTWARE"},
    {attribute_type::alternate_server, "ALTERNATE-SERVER"},
    {attribute_type::cache_timeout, "CACHE-TIMEOUT"},
    {attribute_type::fingerprint, "FINGERPRINT"},
    {attribute_type::ice_controlled, "ICE-CONTROLLED"},
    {attribute_type::ice_controlling, "ICE-CONTROLLING"},
    {attribute_type::response_origin, "RESPONSE-ORIGIN"},
    {attribute_type::other_address, "OTHER-ADDRESS"},
};

const attribute_info* info_of(attribute_type t) noexcept {
  for (const auto& i : attribute_table)
    if (i.type == t) return &i;
  return nullptr;
}

}  // namespace

bool is_known(attribute_type t) noexcept { return info_of(t) != nullptr; }

std::string attribute_name(attribute_type t) {
  if (const auto* i = info_of(t)) return std::string(i->name);
  return hex_name(static_cast<unsigned>(t), 4);
}

std::string method_name(method m) {
  switch (m) {
    case method::binding: return "Binding";
    case method::allocate: return "Allocate";
    case method::refresh: return "Refresh";
    case method::send: return "Send";
    case method::data: return "Data";
    case method::create_permission: return "CreatePermission";
    case method::channel_bind: return "ChannelBind";
    case method::connect: return "Connect";
    case method::connection_bind: return "ConnectionBind";
    case method::connection_attempt: return "ConnectionAttempt";
  }
  return hex_name(static_cast<unsigned>(m), 3);
}

std::string_view class_name(message_class c) noexcept {
  switch (c) {
    case message_class::request: return "request";
    case message_class::indication: return "indication";
    case message_class::success_response: return "success response";
    case message_class::error_response: return "error response";
  }
  return "?";
}

std::string_view reason_phrase(int code) noexcept {
  switch (code) {
    case 300: return "Try Alternate";                       // RFC 8489 §14.8
    case 400: return "Bad Request";
    case 401: return "Unauthenticated";                     // "Unauthorized" in RFC 5389
    case 403: return "Forbidden";                           // RFC 8656 §19
    case 405: return "Mobility Forbidden";                  // RFC 8016
    case 420: return "Unknown Attribute";
    case 437: return "Allocation Mismatch";                 // RFC 8656 §19
    case 438: return "Stale Nonce";
    case 440: return "Address Family not Supported";        // RFC 8656 §19
    case 441: return "Wrong Credentials";
    case 442: return "Unsupported Transport Protocol";
    case 443: return "Peer Address Family Mismatch";
    case 446: return "Connection Already Exists";           // RFC 6062 §6.3
    case 447: return "Connection Timeout or Failure";
    case 486: return "Allocation Quota Reached";            // RFC 8656 §19
    case 487: return "Role Conflict";                       // RFC 8445 §7.3.1.1
    case 500: return "Server Error";
    case 508: return "Insufficient Capacity";               // RFC 8656 §19
    default: return "";
  }
}

}  // namespace sigkit::stun
