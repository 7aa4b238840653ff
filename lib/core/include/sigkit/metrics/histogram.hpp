// Latency histogram for sigbench: HDR-style log-linear buckets, fixed memory,
// lossless merge.
//
// Why not keep samples: k6 keeps every sample and its memory grows without
// bound on long runs; a soak test must not. Why not plain log buckets: a 2x
// bucket says nothing useful about a p99 of 18 ms against a 20 ms threshold.
//
// Values are nanoseconds (std::uint64_t), because that is what steady_clock
// gives and a latency cannot be negative. Layout, as in HdrHistogram: the range
// is split into buckets by powers of two; each bucket holds `sub_bucket_count /
// 2` linear sub-buckets (the first bucket holds all `sub_bucket_count`), so the
// width of the slot holding a value v is at most v / (sub_bucket_count / 2).
//
//   a value, 64 bits:   0 0 ... 0 1 x x x ... x x  y y ... y
//                                 '------------'  '-------'
//                                  sub-bucket      dropped: their number,
//                                  index (top      less log2(resolution),
//                                  magnitude bits) is the bucket index
//
// Error bound: every reported value r (percentiles, bucket bounds) lies in the
// same slot as the true sample v, so |r - v| < v / half_count for
// v >= half_count * resolution, and |r - v| < resolution below that, where
// resolution is the largest power of two <= lowest_discernible_ns. With the
// default (3 significant digits, 1 ns resolution) half_count is 1024: relative
// error < 1/1024 = 0.098% at every value. Two digits give half_count 128
// (< 0.79%) in a seventh of the memory (37 KB against 270 KB for 1 ns..1 h).
//
// Not thread-safe, by design: recording is a few loads and adds with no atomics.
// Keep one histogram per thread and merge() them at the end (or per interval).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <iterator>
#include <vector>

namespace sigkit::metrics {

// What a histogram can tell apart and how far it reaches.
struct histogram_range {
  // Absolute resolution; rounded down to a power of two. 1 ns keeps small
  // values exact (values below 2 * half_count are recorded without error).
  std::uint64_t lowest_discernible_ns = 1;
  // Values above this are still counted (see saturated_count()) but recorded
  // in the top slot; min() and max() stay exact regardless.
  std::uint64_t highest_trackable_ns = 3'600'000'000'000;  // one hour
  // Decimal digits of precision kept at every magnitude, 1..5.
  int significant_digits = 3;
};

// Scaling ratios for write_hgrm(): recorded nanoseconds are divided by these.
inline constexpr double ns_per_us = 1e3;
inline constexpr double ns_per_ms = 1e6;
inline constexpr double ns_per_s = 1e9;

class latency_histogram {
 public:
  // One non-empty slot: every value in [lowest_ns, highest_ns] is counted here.
  struct bucket {
    std::uint64_t lowest_ns;
    std::uint64_t highest_ns;
    std::uint64_t count;
  };

  // Forward range over the non-empty slots, in increasing value order.
  class bucket_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = bucket;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = bucket;

    bucket_iterator() = default;
    bucket operator*() const;
    bucket_iterator& operator++();
    bucket_iterator operator++(int);
    bool operator==(const bucket_iterator& other) const { return index_ == other.index_; }

   private:
    friend class latency_histogram;
    bucket_iterator(const latency_histogram* owner, std::size_t index);
    void skip_empty();
    const latency_histogram* owner_ = nullptr;
    std::size_t index_ = 0;
  };

  struct bucket_range {
    bucket_iterator first;
    bucket_iterator last;
    bucket_iterator begin() const { return first; }
    bucket_iterator end() const { return last; }
  };

  // Throws std::invalid_argument on an impossible range (a start-up error).
  explicit latency_histogram(histogram_range range = {});

  // O(1), no allocation.
  void record(std::uint64_t value_ns) noexcept { record(value_ns, 1); }
  void record(std::uint64_t value_ns, std::uint64_t count) noexcept;
  // Negative durations (a clock misuse) are recorded as 0.
  void record(std::chrono::nanoseconds latency) noexcept;

  // Adds every count of `other`. Lossless: the result equals recording both
  // sample sets into one histogram. Both must come from the same
  // histogram_range; anything else is a programming error (std::invalid_argument).
  void merge(const latency_histogram& other);

  // Back to empty, keeping the memory (for per-interval figures).
  void reset() noexcept;

  std::uint64_t count() const noexcept { return total_count_; }
  bool empty() const noexcept { return total_count_ == 0; }
  // Exact recorded extremes, not slot bounds; 0 when empty.
  std::uint64_t min() const noexcept { return total_count_ == 0 ? 0 : min_; }
  std::uint64_t max() const noexcept { return max_; }
  // Exact mean of the recorded values (the sum is kept in 128 bits); 0 when empty.
  double mean() const noexcept;
  // From slot midpoints, so within the error bound; 0 when empty.
  double stddev() const noexcept;

  // Nearest-rank percentile: the recorded value of rank ceil(p/100 * count())
  // (at least 1), reported as the top of its slot, clamped to [min(), max()]
  // so that p0 is min() and p100 is max() exactly. p is clamped to [0, 100].
  // Never below the true sample of that rank. 0 when empty.
  std::uint64_t value_at_percentile(double percentile) const noexcept;

  // Samples above highest_trackable_ns; their slot is the top one.
  std::uint64_t saturated_count() const noexcept { return saturated_count_; }

  // What the slots cannot hold, for codecs that carry only slot counts (such
  // as HdrHistogram's encoding): the exact extremes, the exact sum, and how
  // many samples were above the range.
  __extension__ using wide_sum = unsigned __int128;
  struct exact_figures {
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    wide_sum sum = 0;
    std::uint64_t saturated = 0;
  };
  exact_figures exact() const noexcept;
  // After rebuilding the counts from such a codec (record() at each slot's
  // lowest value), puts the exact figures back. Refused (false, nothing
  // changed) when they contradict the counts: an extreme outside the first
  // or last non-empty slot, a sum outside what the slots allow, more
  // saturated samples than the top slot holds.
  bool restore_exact(const exact_figures& figures) noexcept;

  const histogram_range& range() const noexcept { return range_; }
  // Same range, same counts in every slot, same exact figures.
  bool operator==(const latency_histogram& other) const noexcept;

  bucket_range buckets() const;

  // HdrHistogram's percentile-distribution text (.hgrm), as its plotter reads:
  // values divided by `ns_per_output_unit` (ns_per_ms gives milliseconds),
  // five reporting points per halving of the distance to 100%, and the
  // Mean/StdDeviation, Max/Total count, Buckets/SubBuckets footer.
  void write_hgrm(std::ostream& out, double ns_per_output_unit = ns_per_ms) const;

  // Layout, for reports and tests.
  double relative_error_bound() const noexcept { return 1.0 / static_cast<double>(half_count_); }
  std::uint64_t resolution_ns() const noexcept { return std::uint64_t{1} << unit_magnitude_; }
  int bucket_count() const noexcept { return bucket_count_; }
  int sub_bucket_count() const noexcept { return sub_bucket_count_; }
  std::size_t memory_bytes() const noexcept { return sizeof(*this) + counts_.size() * sizeof(std::uint64_t); }

  // Slot arithmetic, public so tests can check the bound directly.
  std::uint64_t lowest_equivalent(std::uint64_t value_ns) const noexcept;
  std::uint64_t highest_equivalent(std::uint64_t value_ns) const noexcept;

 private:
  std::size_t index_of(std::uint64_t value_ns) const noexcept;
  std::uint64_t value_at_index(std::size_t index) const noexcept;
  std::uint64_t slot_width_at_index(std::size_t index) const noexcept;
  bool same_layout(const latency_histogram& other) const noexcept;

  histogram_range range_;
  int unit_magnitude_ = 0;            // log2(resolution)
  int sub_bucket_count_magnitude_ = 0;
  int sub_bucket_count_ = 0;
  int half_count_ = 0;
  int half_count_magnitude_ = 0;
  int bucket_count_ = 0;
  int leading_zero_count_base_ = 0;
  std::uint64_t sub_bucket_mask_ = 0;
  std::uint64_t top_value_ = 0;       // highest_trackable_ns, where saturated samples land

  std::vector<std::uint64_t> counts_;  // sized once in the constructor
  std::uint64_t total_count_ = 0;
  std::uint64_t saturated_count_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
  // Exact sum for mean(); a GCC/Clang extension, hence __extension__.
  wide_sum sum_ = 0;
};

}  // namespace sigkit::metrics
