#include "sigkit/metrics/hdr_encoding.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace sigkit::metrics {

namespace {

constexpr std::uint32_t cookie_base_mask = ~std::uint32_t{0xf0};
constexpr std::uint32_t v2_base = 0x1c849303;
constexpr std::uint32_t v2_compressed_base = 0x1c849304;
constexpr std::size_t header_bytes = 40;
constexpr std::size_t max_word_bytes = 9;
constexpr std::uint64_t our_highest_limit = std::uint64_t{1} << 62;  // latency_histogram's

// --- HdrHistogram's counts array, from its definition ---------------------------

struct hdr_layout {
  int unit_magnitude = 0;
  int half_count_magnitude = 0;
  std::uint64_t half_count = 0;
  std::uint64_t sub_bucket_mask = 0;
  int leading_zero_count_base = 0;
  std::uint64_t counts_length = 0;

  // nullopt-like: false when HdrHistogram itself would refuse the parameters.
  bool build(std::uint64_t lowest, std::uint64_t highest, int digits) {
    if (lowest < 1 || digits < 0 || digits > 5 || highest / 2 < lowest) return false;
    std::uint64_t largest_single_unit = 2;
    for (int d = 0; d < digits; ++d) largest_single_unit *= 10;
    const int sub_bucket_count_magnitude = static_cast<int>(std::bit_width(largest_single_unit - 1));
    half_count_magnitude = std::max(sub_bucket_count_magnitude, 1) - 1;
    unit_magnitude = static_cast<int>(std::bit_width(lowest)) - 1;
    if (unit_magnitude + half_count_magnitude > 61) return false;
    const std::uint64_t sub_bucket_count = std::uint64_t{1} << (half_count_magnitude + 1);
    half_count = sub_bucket_count / 2;
    sub_bucket_mask = (sub_bucket_count - 1) << unit_magnitude;
    leading_zero_count_base = 64 - unit_magnitude - half_count_magnitude - 1;
    // Buckets double the reach until `highest` is trackable.
    std::uint64_t smallest_untrackable = sub_bucket_count << unit_magnitude;
    std::uint64_t buckets = 1;
    while (smallest_untrackable <= highest) {
      if (smallest_untrackable > std::numeric_limits<std::uint64_t>::max() / 2) {
        ++buckets;
        break;
      }
      smallest_untrackable <<= 1;
      ++buckets;
    }
    counts_length = (buckets + 1) * half_count;
    return true;
  }

  std::uint64_t index_of(std::uint64_t value) const {
    const int bucket = leading_zero_count_base - std::countl_zero(value | sub_bucket_mask);
    const std::uint64_t sub_bucket = value >> (bucket + unit_magnitude);
    return (static_cast<std::uint64_t>(bucket + 1) << half_count_magnitude) + sub_bucket - half_count;
  }

  std::uint64_t value_at(std::uint64_t index) const {
    std::int64_t bucket = static_cast<std::int64_t>(index >> half_count_magnitude) - 1;
    std::uint64_t sub_bucket = (index & (half_count - 1)) + half_count;
    if (bucket < 0) {
      sub_bucket -= half_count;
      bucket = 0;
    }
    return sub_bucket << (bucket + unit_magnitude);
  }

  std::uint64_t width_at(std::uint64_t index) const {
    const std::int64_t bucket = std::max<std::int64_t>(0, static_cast<std::int64_t>(index >> half_count_magnitude) - 1);
    return std::uint64_t{1} << (bucket + unit_magnitude);
  }
};

// --- big-endian integers and ZigZag LEB128-64b9B words ---------------------------

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}
std::uint32_t get_u32(std::string_view in, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}
std::uint64_t get_u64(std::string_view in, std::size_t at) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
  return v;
}

void put_word(std::string& out, std::int64_t value) {
  auto u = (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
  for (int i = 0; i < 8; ++i) {
    if ((u >> 7) == 0) {
      out.push_back(static_cast<char>(u));
      return;
    }
    out.push_back(static_cast<char>((u & 0x7f) | 0x80));
    u >>= 7;
  }
  out.push_back(static_cast<char>(u & 0xff));  // the ninth byte carries 8 bits
}

// Reads one word at `at`, advancing it; false when the input ends inside it.
bool get_word(std::string_view in, std::size_t& at, std::int64_t& value) {
  std::uint64_t u = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= in.size()) return false;
    const auto byte = static_cast<std::uint64_t>(static_cast<unsigned char>(in[at++]));
    if (i == 8) {
      u |= byte << 56;
      break;
    }
    u |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) break;
  }
  value = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
  return true;
}

// A codec step's failure, named (result<> needs distinct value and error types).
struct failure {
  std::string message;
};

// --- base64, RFC 4648 §4 ---------------------------------------------------------

constexpr std::string_view base64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                            (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(base64_alphabet[(v >> shift) & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(base64_alphabet[(v >> 18) & 63]);
    out.push_back(base64_alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? base64_alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

result<std::string, failure> base64_decode(std::string_view text) {
  std::array<int, 256> values{};
  values.fill(-1);
  for (std::size_t i = 0; i < base64_alphabet.size(); ++i) values[static_cast<unsigned char>(base64_alphabet[i])] = static_cast<int>(i);
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return failure{"base64 text has an impossible length"};
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = values[static_cast<unsigned char>(c)];
    if (v < 0) return failure{std::string("not base64: unexpected character '") + c + "'"};
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// --- zlib ------------------------------------------------------------------------

std::string deflate_bytes(std::string_view in) {
  uLongf size = compressBound(static_cast<uLong>(in.size()));
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(in.data()),
                static_cast<uLong>(in.size()), Z_DEFAULT_COMPRESSION) != Z_OK)
    throw std::runtime_error("zlib: compress2 failed");  // only on memory exhaustion
  out.resize(size);
  return out;
}

// The most a V2 encoding with this header can take: the header and nine
// bytes per slot of its counts array (every count the widest word); 0 for a
// header HdrHistogram would refuse.
std::size_t largest_encoding(std::string_view header);

// Inflates at most what the inner header allows (largest_encoding); more is
// an error (a hostile "zip bomb"), found before it fills memory.
result<std::string, failure> inflate_bytes(std::string_view in) {
  std::size_t limit = header_bytes;
  bool limit_known = false;
  bool header_refused = false;
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) return failure{"zlib: inflateInit failed"};
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  std::string out;
  std::array<char, 16384> chunk{};
  int status = Z_OK;
  while (status == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    status = inflate(&zs, Z_NO_FLUSH);
    if (status != Z_OK && status != Z_STREAM_END) break;
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (!limit_known && out.size() >= header_bytes) {
      limit = largest_encoding(out);
      limit_known = true;
      header_refused = limit == 0;
    }
    if (header_refused) break;  // the header's own error says more than its size would
    if (out.size() > limit) {
      inflateEnd(&zs);
      return failure{"compressed histogram inflates beyond its own counts array"};
    }
    if (status == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated input
  }
  inflateEnd(&zs);
  if (header_refused) return out;
  if (status != Z_STREAM_END) return failure{"compressed histogram: the zlib data is truncated or corrupt"};
  return out;
}

std::uint64_t double_bits(double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return bits;
}

std::size_t largest_encoding(std::string_view header) {
  hdr_layout layout;
  const auto digits = static_cast<std::int32_t>(get_u32(header, 12));
  if (!layout.build(get_u64(header, 16), get_u64(header, 24), digits)) return 0;  // refused by decode_hdr
  return header_bytes + static_cast<std::size_t>(layout.counts_length) * max_word_bytes;
}

}  // namespace

std::string encode_hdr_v2(const latency_histogram& h) {
  const histogram_range& range = h.range();
  hdr_layout layout;
  if (!layout.build(range.lowest_discernible_ns, range.highest_trackable_ns, range.significant_digits))
    throw std::logic_error("encode_hdr_v2: the histogram's range is not one HdrHistogram accepts");

  // Counts by HdrHistogram index, up to the slot of the highest value.
  const std::uint64_t top = std::min(h.max(), range.highest_trackable_ns);
  std::vector<std::uint64_t> counts(layout.index_of(top) + 1, 0);
  for (const auto b : h.buckets()) {
    const std::uint64_t index = layout.index_of(b.lowest_ns);
    if (layout.index_of(b.highest_ns) != index || index >= counts.size())
      throw std::logic_error("encode_hdr_v2: a slot does not map onto one HdrHistogram slot");
    counts[index] += b.count;
  }

  std::string payload;
  for (std::size_t i = 0; i < counts.size();) {
    if (counts[i] != 0) {
      put_word(payload, static_cast<std::int64_t>(counts[i++]));
      continue;
    }
    std::size_t zeros = 0;
    while (i < counts.size() && counts[i] == 0) ++zeros, ++i;
    put_word(payload, zeros > 1 ? -static_cast<std::int64_t>(zeros) : 0);
  }

  std::string out;
  out.reserve(header_bytes + payload.size());
  put_u32(out, hdr_v2_cookie);
  put_u32(out, static_cast<std::uint32_t>(payload.size()));
  put_u32(out, 0);  // normalizing index offset
  put_u32(out, static_cast<std::uint32_t>(range.significant_digits));
  put_u64(out, range.lowest_discernible_ns);
  put_u64(out, range.highest_trackable_ns);
  put_u64(out, double_bits(1.0));
  out += payload;
  return out;
}

std::string encode_hdr_compressed(const latency_histogram& h) {
  const std::string compressed = deflate_bytes(encode_hdr_v2(h));
  std::string out;
  put_u32(out, hdr_v2_compressed_cookie);
  put_u32(out, static_cast<std::uint32_t>(compressed.size()));
  return out + compressed;
}

std::string encode_hdr_base64(const latency_histogram& h) { return base64_encode(encode_hdr_compressed(h)); }

result<latency_histogram, std::string> decode_hdr(std::string_view bytes) {
  if (bytes.size() < 8) return std::string("not an HdrHistogram encoding: too short");
  const std::uint32_t cookie = get_u32(bytes, 0);
  std::string inflated;
  if ((cookie & cookie_base_mask) == v2_compressed_base) {
    const std::uint32_t length = get_u32(bytes, 4);
    if (length > bytes.size() - 8) return std::string("compressed histogram: length field exceeds the data");
    auto plain = inflate_bytes(bytes.substr(8, length));
    if (!plain) return plain.error().message;
    inflated = std::move(plain.value());
    bytes = inflated;
    if (bytes.size() < 8 || (get_u32(bytes, 0) & cookie_base_mask) != v2_base)
      return std::string("compressed histogram: the inner encoding is not HdrHistogram V2");
  } else if ((cookie & cookie_base_mask) != v2_base) {
    if ((cookie & 0xffffff00) == 0x1c849300)
      return std::string("HdrHistogram encoding of an older version (V0/V1): only V2 is supported");
    return std::string("not an HdrHistogram V2 encoding (cookie mismatch)");
  }
  if (bytes.size() < header_bytes) return std::string("HdrHistogram V2 encoding: header truncated");
  const std::uint32_t payload_length = get_u32(bytes, 4);
  const auto offset = static_cast<std::int32_t>(get_u32(bytes, 8));
  const auto digits = static_cast<std::int32_t>(get_u32(bytes, 12));
  const auto lowest = static_cast<std::int64_t>(get_u64(bytes, 16));
  const auto highest = static_cast<std::int64_t>(get_u64(bytes, 24));
  // The payload lists counts in logical index order whatever the offset (it
  // only says how a shifted histogram lays them out in memory), and
  // HdrHistogram's JavaScript port writes 1 there for unshifted histograms,
  // as it writes the conversion ratio's field as the integer 1: both are
  // read and ignored, as that port's and the C port's readers do.
  (void)offset;
  if (digits < 1 || digits > 5)
    return "HdrHistogram V2 encoding: " + std::to_string(digits) + " significant digits (supported: 1 to 5)";
  if (lowest < 1 || highest < 2 || highest / 2 < lowest)
    return "HdrHistogram V2 encoding: impossible range " + std::to_string(lowest) + ".." + std::to_string(highest);
  if (payload_length > bytes.size() - header_bytes) return std::string("HdrHistogram V2 encoding: payload truncated");

  hdr_layout layout;
  if (!layout.build(static_cast<std::uint64_t>(lowest), static_cast<std::uint64_t>(highest), digits))
    return std::string("HdrHistogram V2 encoding: a range HdrHistogram itself refuses");
  histogram_range range;
  range.lowest_discernible_ns = static_cast<std::uint64_t>(lowest);
  range.highest_trackable_ns = std::min(static_cast<std::uint64_t>(highest), our_highest_limit);
  range.significant_digits = digits;
  if (range.highest_trackable_ns < 2 * range.lowest_discernible_ns)
    return std::string("HdrHistogram V2 encoding: a range too coarse for this reader");
  latency_histogram h = [&]() -> latency_histogram {
    try {
      return latency_histogram(range);
    } catch (const std::invalid_argument&) {
      return latency_histogram();
    }
  }();
  if (!(h.range().lowest_discernible_ns == range.lowest_discernible_ns &&
        h.range().highest_trackable_ns == range.highest_trackable_ns))
    return std::string("HdrHistogram V2 encoding: a range this reader cannot hold");

  const std::string_view payload = bytes.substr(header_bytes, payload_length);
  std::size_t at = 0;
  std::uint64_t index = 0;
  std::uint64_t total = 0;
  std::uint64_t first = 0, last = 0;
  latency_histogram::wide_sum midpoints = 0;
  while (at < payload.size()) {
    std::int64_t word = 0;
    if (!get_word(payload, at, word)) return std::string("HdrHistogram V2 encoding: a count is cut short");
    if (word < 0) {
      if (word == std::numeric_limits<std::int64_t>::min() ||
          static_cast<std::uint64_t>(-word) > layout.counts_length - index)
        return std::string("HdrHistogram V2 encoding: a run of zeros runs past the counts array");
      index += static_cast<std::uint64_t>(-word);
      continue;
    }
    if (index >= layout.counts_length) return std::string("HdrHistogram V2 encoding: more counts than the range has slots");
    const auto count = static_cast<std::uint64_t>(word);
    if (count > 0) {
      if (total > std::numeric_limits<std::uint64_t>::max() - count)
        return std::string("HdrHistogram V2 encoding: the total count overflows");
      const std::uint64_t value = layout.value_at(index);
      h.record(value, count);
      if (total == 0) first = index;
      last = index;
      total += count;
      midpoints += static_cast<latency_histogram::wide_sum>(value + layout.width_at(index) / 2) * count;
    }
    ++index;
  }
  // As HdrHistogram reads it: extremes at the outer slots' bounds, the mean
  // from slot midpoints.
  if (total > 0) {
    latency_histogram::exact_figures figures = h.exact();
    figures.min = layout.value_at(first);
    figures.max = std::min(layout.value_at(last) + layout.width_at(last) - 1, range.highest_trackable_ns);
    if (layout.value_at(last) > range.highest_trackable_ns) figures.max = layout.value_at(last);
    figures.sum = midpoints;
    h.restore_exact(figures);  // refused only by an inconsistency the figures above cannot have
  }
  return h;
}

result<latency_histogram, std::string> decode_hdr_base64(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\n' || text.front() == '\r' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t'))
    text.remove_suffix(1);
  auto bytes = base64_decode(text);
  if (!bytes) return bytes.error().message;
  return decode_hdr(bytes.value());
}

}  // namespace sigkit::metrics
