#include "sigkit/metrics/hdr_encoding.hpp"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using sigkit::metrics::decode_hdr;
using sigkit::metrics::decode_hdr_base64;
using sigkit::metrics::encode_hdr_base64;
using sigkit::metrics::encode_hdr_compressed;
using sigkit::metrics::encode_hdr_v2;
using sigkit::metrics::histogram_range;
using sigkit::metrics::latency_histogram;

namespace {

// Written by hdr-histogram-js 3.0.1 (the TypeScript port of HdrHistogram),
// from build({lowestDiscernibleValue: 1, highestTrackableValue: 3600e9,
// numberOfSignificantValueDigits: 3}) with 1000 x 1,000,000, 10 x 50,000,000,
// 1 x 2,000,000,000 and 3 x 7 recorded; it reports p50 1000447, p99 50003967,
// p100 2000683007 (slot tops) for it.
constexpr const char* js_histogram = "HISTFAAAADN4nJNpmSzMwMDAy8DAwMjAwMDMAAGMDAzMbgY7FjDA+LxsG9cxXuBfGinyM5QJAJB3B98=";
// The same library's empty histogram of that range.
constexpr const char* js_empty = "HISTFAAAACB4nJNpmSzMwMDACMXMDBDAyMDA7GawYwEDnA8ASQ8DHw==";
// And 1 .. 60,000,000 at two digits, with 5 x 1234 and 1 x 987654 (p50 1239,
// p100 991231).
constexpr const char* js_two_digits = "HISTFAAAACl4nJNpmSzMwMDAxsDAwMjAwMDEAAEgNgPz5HYGGH8zB9dqYSYAU1wD9A==";

std::string base64_bytes(const std::string& text) {
  // The test's own decoder, so the codec's is not checked against itself.
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = (c >= 'A' && c <= 'Z') ? c - 'A' : (c >= 'a' && c <= 'z') ? c - 'a' + 26
            : (c >= '0' && c <= '9') ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The uncompressed V2 bytes inside a compressed encoding.
std::string inflated(const std::string& compressed) {
  REQUIRE(compressed.size() > 8);
  std::string out(1 << 20, '\0');
  uLongf size = out.size();
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &size,
                     reinterpret_cast<const Bytef*>(compressed.data() + 8),
                     static_cast<uLong>(compressed.size() - 8)) == Z_OK);
  out.resize(size);
  return out;
}

// The JavaScript port writes 1 as the normalizing index offset and the
// integer 1 in place of the double 1.0 conversion ratio, fields its readers
// (and this one) ignore; everything else must match byte for byte.
std::string without_ignored_fields(std::string v2) {
  REQUIRE(v2.size() >= 40);
  v2.replace(8, 4, std::string(4, '\0'));
  v2.replace(32, 8, std::string(8, '\0'));
  return v2;
}

std::uint32_t be32(const std::string& bytes, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

latency_histogram decoded(const std::string& text) {
  auto h = decode_hdr_base64(text);
  if (!h) FAIL("decode failed: " << h.error());
  return std::move(h.value());
}

std::string compressed_with(const std::string& plain, std::uint32_t cookie = 0x1c849314) {
  std::string z(compressBound(static_cast<uLong>(plain.size())), '\0');
  uLongf size = z.size();
  REQUIRE(compress(reinterpret_cast<Bytef*>(z.data()), &size, reinterpret_cast<const Bytef*>(plain.data()),
                   static_cast<uLong>(plain.size())) == Z_OK);
  z.resize(size);
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((cookie >> shift) & 0xff));
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((size >> shift) & 0xff));
  return out + z;
}

}  // namespace

TEST_CASE("hdr: a histogram written by HdrHistogram's JavaScript port decodes to its counts", "[hdr]") {
  const latency_histogram h = decoded(js_histogram);
  CHECK(h.count() == 1014);
  CHECK(h.range().lowest_discernible_ns == 1);
  CHECK(h.range().highest_trackable_ns == 3'600'000'000'000);
  CHECK(h.range().significant_digits == 3);
  std::vector<latency_histogram::bucket> slots(h.buckets().begin(), h.buckets().end());
  REQUIRE(slots.size() == 4);
  CHECK(slots[0].lowest_ns == 7);
  CHECK(slots[0].count == 3);
  CHECK(slots[1].lowest_ns <= 1'000'000);
  CHECK(slots[1].highest_ns >= 1'000'000);
  CHECK(slots[1].count == 1000);
  CHECK(slots[2].count == 10);
  CHECK(slots[3].count == 1);
  // The percentiles the JavaScript library reports for it.
  CHECK(h.value_at_percentile(0) == 7);
  CHECK(h.value_at_percentile(50) == 1'000'447);
  CHECK(h.value_at_percentile(90) == 1'000'447);
  CHECK(h.value_at_percentile(99) == 50'003'967);
  CHECK(h.value_at_percentile(99.9) == 50'003'967);
  CHECK(h.value_at_percentile(100) == 2'000'683'007);

  const latency_histogram two = decoded(js_two_digits);
  CHECK(two.range().significant_digits == 2);
  CHECK(two.range().highest_trackable_ns == 60'000'000);
  CHECK(two.count() == 6);
  CHECK(two.value_at_percentile(50) == 1239);
  CHECK(two.value_at_percentile(100) == 991'231);

  const latency_histogram empty = decoded(js_empty);
  CHECK(empty.empty());
  CHECK(empty.max() == 0);
}

TEST_CASE("hdr: the same samples encode to the JavaScript port's V2 bytes", "[hdr]") {
  latency_histogram h;
  h.record(1'000'000, 1000);
  h.record(50'000'000, 10);
  h.record(2'000'000'000);
  h.record(7, 3);
  CHECK(without_ignored_fields(encode_hdr_v2(h)) == without_ignored_fields(inflated(base64_bytes(js_histogram))));
  CHECK(without_ignored_fields(encode_hdr_v2(latency_histogram{})) ==
        without_ignored_fields(inflated(base64_bytes(js_empty))));
  latency_histogram two(histogram_range{1, 60'000'000, 2});
  two.record(1234, 5);
  two.record(987'654);
  CHECK(without_ignored_fields(encode_hdr_v2(two)) == without_ignored_fields(inflated(base64_bytes(js_two_digits))));

  // The compressed frame: cookie, length, zlib; base64 starts "HISTF" as
  // every HdrHistogram log line does.
  const std::string compressed = encode_hdr_compressed(h);
  CHECK(be32(compressed, 0) == 0x1c849314);
  CHECK(be32(compressed, 4) == compressed.size() - 8);
  CHECK(encode_hdr_base64(h).rfind("HISTF", 0) == 0);
  const std::string plain = encode_hdr_v2(h);
  CHECK(be32(plain, 0) == 0x1c849313);
  CHECK(be32(plain, 4) == plain.size() - 40);
  CHECK(be32(plain, 8) == 0);  // normalizing index offset (the JavaScript port writes 1; see below)
  CHECK(be32(plain, 12) == 3);
}

TEST_CASE("hdr: decode then re-encode gives the same bytes, and the same histogram", "[hdr]") {
  // HdrHistogram's strings round-trip through this codec unchanged.
  for (const char* text : {js_histogram, js_empty, js_two_digits})
    CHECK(without_ignored_fields(encode_hdr_v2(decoded(text))) == without_ignored_fields(inflated(base64_bytes(text))));

  std::mt19937_64 rng(10);
  for (const histogram_range range :
       {histogram_range{}, histogram_range{1, 60'000'000'000, 2}, histogram_range{1000, 3'600'000'000'000, 3},
        histogram_range{1, 10'000'000, 5}}) {
    latency_histogram h(range);
    std::lognormal_distribution<double> latency(13.0, 2.5);  // ~0.4 ms median, a long tail
    for (int i = 0; i < 20000; ++i) h.record(static_cast<std::uint64_t>(latency(rng)));
    h.record(range.highest_trackable_ns * 3);  // saturated: counted in the top slot
    const std::string text = encode_hdr_base64(h);
    latency_histogram back = decoded(text);
    INFO("digits " << range.significant_digits << " lowest " << range.lowest_discernible_ns);
    CHECK(back.count() == h.count());
    // Every slot and its count survive; the exact figures come back on top.
    std::vector<latency_histogram::bucket> a(h.buckets().begin(), h.buckets().end());
    std::vector<latency_histogram::bucket> b(back.buckets().begin(), back.buckets().end());
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].lowest_ns == b[i].lowest_ns);
      CHECK(a[i].highest_ns == b[i].highest_ns);
      CHECK(a[i].count == b[i].count);
    }
    CHECK(back.restore_exact(h.exact()));
    CHECK(back == h);
    CHECK(encode_hdr_base64(back) == text);
    for (double p : {0.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) CHECK(back.value_at_percentile(p) == h.value_at_percentile(p));
  }
}

TEST_CASE("hdr: merging decoded histograms equals merging the originals", "[hdr]") {
  latency_histogram a, b;
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> fast(1.0 / 200'000), slow(1.0 / 40'000'000);
  for (int i = 0; i < 5000; ++i) a.record(static_cast<std::uint64_t>(fast(rng)));
  for (int i = 0; i < 300; ++i) b.record(static_cast<std::uint64_t>(slow(rng)));
  latency_histogram direct = a;
  direct.merge(b);
  latency_histogram via = decoded(encode_hdr_base64(a));
  REQUIRE(via.restore_exact(a.exact()));
  latency_histogram other = decoded(encode_hdr_base64(b));
  REQUIRE(other.restore_exact(b.exact()));
  via.merge(other);
  CHECK(via == direct);
}

TEST_CASE("hdr: without the exact figures, extremes are the outer slots' bounds", "[hdr]") {
  latency_histogram h;
  h.record(1'000'003);
  h.record(5'000'001);
  const latency_histogram back = decoded(encode_hdr_base64(h));
  CHECK(back.min() == h.lowest_equivalent(1'000'003));
  CHECK(back.max() == h.highest_equivalent(5'000'001));
  CHECK(back.mean() == Approx(h.mean()).epsilon(1e-3));
}

TEST_CASE("hdr: exact figures that contradict the counts are refused", "[hdr]") {
  latency_histogram h;
  h.record(1000);
  h.record(2'000'000);
  latency_histogram back = decoded(encode_hdr_base64(h));
  const latency_histogram before = back;
  auto figures = h.exact();
  figures.min = 999'999;  // not in the first slot
  CHECK_FALSE(back.restore_exact(figures));
  figures = h.exact();
  figures.max = 3'000'000;  // not in the last slot
  CHECK_FALSE(back.restore_exact(figures));
  figures = h.exact();
  figures.sum = 10;  // less than the slots allow
  CHECK_FALSE(back.restore_exact(figures));
  figures = h.exact();
  figures.saturated = 1;  // nothing was above the range
  CHECK_FALSE(back.restore_exact(figures));
  CHECK(back == before);
  CHECK(back.restore_exact(h.exact()));
  CHECK(latency_histogram{}.exact().sum == 0);
}

TEST_CASE("hdr: malformed encodings are errors, never crashes", "[hdr]") {
  latency_histogram h;
  for (std::uint64_t v = 1; v < 10'000'000'000; v *= 3) h.record(v);
  const std::string good = encode_hdr_compressed(h);
  const std::string plain = encode_hdr_v2(h);

  auto error_of = [](const std::string& bytes) {
    auto r = decode_hdr(bytes);
    REQUIRE_FALSE(r.ok());
    return r.error();
  };
  CHECK(error_of("").find("too short") != std::string::npos);
  CHECK(error_of(std::string("\x12\x34\x56\x78\0\0\0\0", 8)).find("cookie") != std::string::npos);
  CHECK(error_of(std::string("\x1c\x84\x93\x10\0\0\0\0", 8)).find("older version") != std::string::npos);
  CHECK(error_of(good.substr(0, good.size() - 5)).find("length") != std::string::npos);
  std::string corrupt = good;
  corrupt[good.size() / 2] ^= 0x55;
  CHECK_FALSE(decode_hdr(corrupt).ok());
  CHECK(error_of(plain.substr(0, 30)).find("truncated") != std::string::npos);
  CHECK(error_of(plain.substr(0, plain.size() - 3)).find("truncated") != std::string::npos);

  auto with_field = [&](std::size_t at, std::uint32_t value) {
    std::string p = plain;
    for (int i = 0; i < 4; ++i) p[at + static_cast<std::size_t>(i)] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
    return p;
  };
  // The normalizing index offset does not move logical counts: ignored.
  CHECK(decode_hdr(with_field(8, 3)).ok());
  CHECK(error_of(with_field(12, 0)).find("significant digits") != std::string::npos);
  CHECK(error_of(with_field(12, 9)).find("significant digits") != std::string::npos);
  CHECK(error_of(compressed_with(with_field(12, 9))).find("significant digits") != std::string::npos);

  // A run of zeros past the end, and counts past the end.
  std::string header = plain.substr(0, 40);
  auto with_payload = [&](const std::string& payload) {
    std::string p = header + payload;
    const auto n = static_cast<std::uint32_t>(payload.size());
    for (int i = 0; i < 4; ++i) p[4 + static_cast<std::size_t>(i)] = static_cast<char>((n >> (24 - 8 * i)) & 0xff);
    return p;
  };
  CHECK(error_of(with_payload("\x81\x80\x80\x80\x40")).find("run of zeros") != std::string::npos);  // -2^32ish
  CHECK(error_of(with_payload("\x80")).find("cut short") != std::string::npos);

  // A "zip bomb": a few KB of zlib inflating to far more than its header's
  // counts array could need (34k slots of at most 9 bytes).
  std::string bomb = header + std::string(20'000'000, '\0');
  CHECK(error_of(compressed_with(bomb)).find("inflates beyond") != std::string::npos);

  CHECK_FALSE(decode_hdr_base64("HISTF$$$").ok());
  CHECK_FALSE(decode_hdr_base64("").ok());

  // Random damage anywhere: an error or a histogram, nothing else.
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = (i % 2) ? good : plain;
    for (int k = 0; k < 1 + i % 4; ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    (void)decode_hdr(damaged);
    (void)decode_hdr(damaged.substr(0, rng() % damaged.size()));
  }
}
