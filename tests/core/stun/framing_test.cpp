// ChannelData and TCP stream reassembly.
#include "sigkit/stun/framing.hpp"

#include <catch2/catch.hpp>

#include "hex.hpp"
#include "sigkit/stun/message.hpp"

using namespace sigkit::stun;
using sigkit::stun::test::bytes_of;
using sigkit::stun::test::hex;

TEST_CASE("ChannelData encodes and decodes (RFC 8656 §12.4)", "[stun][framing]") {
  CHECK(encode_channel_data(0x4001, bytes_of("hello")).value() == hex("40 01 00 05 68 65 6c 6c 6f"));
  CHECK(encode_channel_data(0x4FFF, bytes_of("hello"), true).value() == hex("4f ff 00 05 68 65 6c 6c 6f 00 00 00"));
  CHECK(encode_channel_data(0x4000, {}, true).value() == hex("40 00 00 00"));
  CHECK(encode_channel_data(0x3FFF, {}).error() == framing_errc::invalid_channel);
  CHECK(encode_channel_data(0x5000, {}).error() == framing_errc::invalid_channel);
  CHECK(encode_channel_data(0x4000, std::vector<std::byte>(65536)).error() == framing_errc::data_too_long);

  const auto padded = encode_channel_data(0x4abc, bytes_of("hello"), true).value();
  const auto cd = decode_channel_data(padded);
  REQUIRE(cd.ok());
  CHECK(cd->channel_ == 0x4abc);
  CHECK(std::vector<std::byte>(cd->data_.begin(), cd->data_.end()) == bytes_of("hello"));
  CHECK(decode_channel_data(hex("40 01 00 05 68 65 6c 6c")).error() == framing_errc::truncated);
  CHECK(decode_channel_data(hex("40 01 00")).error() == framing_errc::truncated);
  CHECK(decode_channel_data(hex("7f ff 00 00")).error() == framing_errc::invalid_channel);
  CHECK(decode_channel_data(hex("40 01 00 01 aa 00 00 00 00")).error() == framing_errc::trailing_bytes);
  CHECK(decode_channel_data(hex("40 01 00 00")).ok());
}

namespace {

std::vector<std::byte> sample_stream(std::vector<std::vector<std::byte>>& frames) {
  transaction_id tid{};
  tid[0] = std::byte{0x42};
  const auto a = serialize(binding_request(tid).add_string(attribute_type::software, "abc"), {std::nullopt, true});
  const auto cd1 = encode_channel_data(0x4000, bytes_of("hello"), true).value();
  const auto b = serialize(allocate_request(tid));
  const auto cd2 = encode_channel_data(0x4FFF, bytes_of("four"), true).value();
  const auto cd3 = encode_channel_data(0x4123, {}, true).value();
  frames = {a, std::vector<std::byte>(cd1.begin(), cd1.begin() + 9), b, cd2, cd3};
  std::vector<std::byte> stream;
  for (const auto* part : {&a, &cd1, &b, &cd2, &cd3}) stream.insert(stream.end(), part->begin(), part->end());
  return stream;
}

std::vector<std::vector<std::byte>> drain(stream_reassembler& r) {
  std::vector<std::vector<std::byte>> out;
  while (auto f = r.next()) out.push_back(f->bytes_);
  return out;
}

}  // namespace

TEST_CASE("reassembly gives the same frames however the stream is split", "[stun][framing]") {
  std::vector<std::vector<std::byte>> expected;
  const auto stream = sample_stream(expected);

  SECTION("in one piece") {
    stream_reassembler r;
    REQUIRE(r.feed(stream).ok());
    std::vector<frame_kind> kinds;
    std::vector<std::vector<std::byte>> got;
    while (auto f = r.next()) {
      kinds.push_back(f->kind_);
      got.push_back(f->bytes_);
    }
    CHECK(got == expected);
    CHECK(kinds == std::vector<frame_kind>{frame_kind::stun, frame_kind::channel_data, frame_kind::stun,
                                           frame_kind::channel_data, frame_kind::channel_data});
    CHECK(r.buffered() == 0);
    CHECK_FALSE(r.error());
  }

  SECTION("split in two at every byte boundary") {
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("cut at " << cut);
      stream_reassembler r;
      REQUIRE(r.feed(std::span(stream).first(cut)).ok());
      auto got = drain(r);
      REQUIRE(r.feed(std::span(stream).subspan(cut)).ok());
      auto rest = drain(r);
      got.insert(got.end(), rest.begin(), rest.end());
      REQUIRE(got == expected);
      REQUIRE(r.buffered() == 0);
      REQUIRE_FALSE(r.error());
    }
  }

  SECTION("one byte at a time") {
    stream_reassembler r;
    std::vector<std::vector<std::byte>> got;
    for (const std::byte b : stream) {
      REQUIRE(r.feed(std::span(&b, 1)).ok());
      auto more = drain(r);
      got.insert(got.end(), more.begin(), more.end());
    }
    CHECK(got == expected);
  }

  SECTION("frames come out parseable") {
    stream_reassembler r;
    REQUIRE(r.feed(stream).ok());
    while (auto f = r.next()) {
      if (f->kind_ == frame_kind::stun) CHECK(parse(f->bytes_).ok());
      else CHECK(decode_channel_data(f->bytes_).ok());
    }
  }
}

TEST_CASE("garbage on the stream is an error that sticks", "[stun][framing]") {
  auto first_error = [](std::vector<std::byte> bytes) {
    stream_reassembler r;
    if (!r.feed(bytes).ok()) return r.error();
    while (r.next()) {
    }
    return r.error();
  };
  CHECK(first_error(hex("80")) == framing_errc::not_stun_or_channel_data);
  CHECK(first_error(hex("c0 00 00 00")) == framing_errc::not_stun_or_channel_data);
  CHECK(first_error(hex("50 00")) == framing_errc::invalid_channel);
  CHECK(first_error(hex("00 01 00 02")) == framing_errc::bad_stun_length);
  CHECK(first_error(hex("00 01 00 00 21 12 a4 43")) == framing_errc::bad_magic_cookie);
  CHECK(first_error(hex("00 01 00 00 21 12 a4")) == std::nullopt);  // still plausible
  // A TLS ClientHello / alert where STUN was expected.
  CHECK(first_error(hex("16 03 01 02 00 01 00 01 fc 03 03")) == framing_errc::looks_like_tls);
  CHECK(first_error(hex("15 03 03 00 02 02 28")) == framing_errc::looks_like_tls);
  CHECK(first_error(bytes_of("HTTP/1.1 400 Bad Request\r\n")) == framing_errc::looks_like_http);
  CHECK(first_error(bytes_of("HTTP")) == std::nullopt);  // undecided until "HTTP/"
  // Only the start of a stream is read as TLS/HTTP; later, 0x16 0x03 is a
  // STUN type like any other and stands or falls by its cookie.
  stream_reassembler later;
  REQUIRE(later.feed(hex("40 00 00 00 16 03 00 00 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 00")).ok());
  CHECK(later.next()->kind_ == frame_kind::channel_data);
  CHECK(later.next()->kind_ == frame_kind::stun);
  CHECK_FALSE(later.error());

  stream_reassembler r;
  REQUIRE(r.feed(hex("80 00 00 00")).ok());
  CHECK_FALSE(r.next());
  CHECK(r.error() == framing_errc::not_stun_or_channel_data);
  CHECK(r.feed(hex("00 01 00 00")).error() == framing_errc::not_stun_or_channel_data);
  CHECK_FALSE(r.next());
}

TEST_CASE("the reassembler's buffer is bounded", "[stun][framing]") {
  stream_reassembler small(64);
  CHECK(small.feed(std::vector<std::byte>(65)).error() == framing_errc::buffer_full);

  // A frame that could never fit is refused as soon as its length is known.
  stream_reassembler r(64);
  REQUIRE(r.feed(hex("40 00 01 00")).ok());  // 256 bytes of ChannelData announced
  CHECK_FALSE(r.next());
  CHECK(r.error() == framing_errc::buffer_full);

  // The default limit takes a maximal STUN message plus a 64 KiB read.
  stream_reassembler big;
  std::vector<std::byte> max_frame = serialize(
      binding_request({}).add_bytes(attribute_type::data, std::vector<std::byte>(max_body_size - 4)));
  REQUIRE(max_frame.size() == stream_reassembler::max_frame_size);
  REQUIRE(big.feed(max_frame).ok());
  REQUIRE(big.feed(std::vector<std::byte>(65536 - 20, std::byte{0x40})).ok());
  CHECK(big.next()->bytes_ == max_frame);
  CHECK(big.feed(std::vector<std::byte>(65536 + 20 + 65532, std::byte{0})).error() == framing_errc::buffer_full);
}
