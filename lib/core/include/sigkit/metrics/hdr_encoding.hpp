// HdrHistogram's V2 encoding of a histogram, compressed and in base64: the
// form HdrHistogram's own tools (its log files, HistogramLogProcessor, the
// Java, C, Go, Rust, Python and JavaScript ports) read and write, so
// histograms measured on many machines can be merged exactly.
//
// The compressed form (all integers big-endian):
//
//   0                   1                   2                   3
//   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          cookie 0x1c849314 (V2 compressed base 0x1c849304,    |
//  |          | 0x10: word-size nibble of the V2 variable words)   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                 length of the zlib data that follows          |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |      zlib (RFC 1950) of the uncompressed V2 encoding below    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//  The uncompressed V2 encoding:
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |          cookie 0x1c849313 (V2 base 0x1c849303 | 0x10)        |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                   payload length in bytes                     |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |                normalizing index offset (0)                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |              number of significant value digits               |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           lowest discernible value (64 bits)                  |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |           highest trackable value (64 bits)                   |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  integer to double conversion ratio (IEEE 754 double, 1.0)    |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//  |  payload: the counts array in index order up to the slot of   |
//  |  the highest recorded value, each a ZigZag LEB128-64b9B word; |
//  |  a run of n > 1 zero counts is the single word -n             |
//  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// LEB128-64b9B is LEB128 capped at nine bytes: eight of 7 bits, then one
// of 8 bits, so any 64-bit word fits in nine. Readers mask the cookie's
// 0xf0 nibble before comparing it with the base.
//
// The counts array is HdrHistogram's: for lowest discernible value L,
// highest trackable value H and d significant digits, sub-bucket count
// 2^ceil(log2(2 * 10^d)), buckets doubling until H fits, each bucket after
// the first using only its upper half. latency_histogram's layout is that
// same one for the same L, H and d, so the conversion maps slot to slot; the
// encoder still maps every slot by value and checks it lands in exactly one
// HdrHistogram slot.
//
// Values are latency_histogram's nanoseconds: HdrHistogram's tools report
// milliseconds from such a histogram with an output value unit ratio of 1e6
// (HistogramLogProcessor's default).
//
// The encoding holds slot counts only, not the exact minimum, maximum, sum
// or saturated count latency_histogram keeps: a decoded histogram's
// extremes are its outer slots' bounds and its mean comes from slot
// midpoints (as in HdrHistogram) unless the exact figures are restored from
// elsewhere (latency_histogram::restore_exact).
#pragma once

#include <string>
#include <string_view>

#include "sigkit/metrics/histogram.hpp"
#include "sigkit/result.hpp"

namespace sigkit::metrics {

inline constexpr std::uint32_t hdr_v2_cookie = 0x1c849313;
inline constexpr std::uint32_t hdr_v2_compressed_cookie = 0x1c849314;

// The uncompressed V2 encoding (bytes).
std::string encode_hdr_v2(const latency_histogram& h);
// The compressed V2 encoding (bytes).
std::string encode_hdr_compressed(const latency_histogram& h);
// Base64 (RFC 4648 §4, padded) of the compressed encoding: "HISTF...".
std::string encode_hdr_base64(const latency_histogram& h);

// Either encoding, compressed or not. Histograms of another range are
// accepted (their range is taken from the header; highest values beyond
// 2^62 are counted as saturated); zero significant digits, a non-zero
// normalizing index offset, and anything malformed are errors naming the
// problem. Never throws, whatever the input.
result<latency_histogram, std::string> decode_hdr(std::string_view bytes);
// Base64 text of an encoding (surrounding whitespace allowed).
result<latency_histogram, std::string> decode_hdr_base64(std::string_view text);

}  // namespace sigkit::metrics
