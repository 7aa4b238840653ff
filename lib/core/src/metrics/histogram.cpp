#include "sigkit/metrics/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <stdexcept>
#include <string>

namespace sigkit::metrics {

namespace {

constexpr std::uint64_t max_trackable = std::uint64_t{1} << 62;  // keeps every shift below in range

// The sample rank a percentile names, 1-based (nearest-rank definition).
// p * n / 100 is computed in that order so that decimal percentiles such as
// 99.9 land on an exact integer rank when they should; the small tolerance
// absorbs the last ulp, so 99.9% of 10000 is rank 9990, not 9991.
std::uint64_t nearest_rank(double percentile, std::uint64_t total) {
  const double exact = percentile * static_cast<double>(total) / 100.0;
  const double tolerance = std::max(1e-9, exact * 1e-15);
  const double rank = std::ceil(exact - tolerance);
  if (rank < 1.0) return 1;
  if (rank >= static_cast<double>(total)) return total;
  return static_cast<std::uint64_t>(rank);
}

}  // namespace

latency_histogram::latency_histogram(histogram_range range) : range_(range) {
  if (range.significant_digits < 1 || range.significant_digits > 5)
    throw std::invalid_argument("latency_histogram: significant_digits must be 1..5, got " +
                                std::to_string(range.significant_digits));
  if (range.lowest_discernible_ns < 1)
    throw std::invalid_argument("latency_histogram: lowest_discernible_ns must be at least 1");
  if (range.highest_trackable_ns < 2 * range.lowest_discernible_ns)
    throw std::invalid_argument(
        "latency_histogram: highest_trackable_ns must be at least twice lowest_discernible_ns");
  if (range.highest_trackable_ns > max_trackable)
    throw std::invalid_argument("latency_histogram: highest_trackable_ns must be at most 2^62 ns");

  // Values up to 2 * 10^digits must be told apart one by one; the smallest
  // power of two covering them is the number of sub-buckets.
  std::uint64_t single_unit_span = 2;
  for (int d = 0; d < range.significant_digits; ++d) single_unit_span *= 10;
  sub_bucket_count_magnitude_ = static_cast<int>(std::bit_width(single_unit_span - 1));
  sub_bucket_count_ = 1 << sub_bucket_count_magnitude_;
  half_count_magnitude_ = sub_bucket_count_magnitude_ - 1;
  half_count_ = sub_bucket_count_ / 2;

  unit_magnitude_ = static_cast<int>(std::bit_width(range.lowest_discernible_ns)) - 1;
  if (unit_magnitude_ + sub_bucket_count_magnitude_ > 62)
    throw std::invalid_argument("latency_histogram: resolution too coarse for the precision asked");
  sub_bucket_mask_ = (static_cast<std::uint64_t>(sub_bucket_count_) - 1) << unit_magnitude_;
  leading_zero_count_base_ = 64 - unit_magnitude_ - sub_bucket_count_magnitude_;

  // Each further bucket doubles the reach; stop once highest fits.
  std::uint64_t smallest_untrackable = static_cast<std::uint64_t>(sub_bucket_count_) << unit_magnitude_;
  bucket_count_ = 1;
  while (smallest_untrackable <= range.highest_trackable_ns) {
    smallest_untrackable <<= 1;
    ++bucket_count_;
  }
  top_value_ = range.highest_trackable_ns;
  counts_.assign(static_cast<std::size_t>(bucket_count_ + 1) * static_cast<std::size_t>(half_count_), 0);
}

std::size_t latency_histogram::index_of(std::uint64_t value_ns) const noexcept {
  const int bucket_index = leading_zero_count_base_ - std::countl_zero(value_ns | sub_bucket_mask_);
  const auto sub_bucket_index = static_cast<std::int64_t>(value_ns >> (bucket_index + unit_magnitude_));
  // Buckets after the first only use their upper half; the lower half would
  // repeat the previous bucket's values at half the resolution.
  return static_cast<std::size_t>((static_cast<std::int64_t>(bucket_index + 1) << half_count_magnitude_) +
                                  (sub_bucket_index - half_count_));
}

std::uint64_t latency_histogram::value_at_index(std::size_t index) const noexcept {
  int bucket_index = static_cast<int>(index >> half_count_magnitude_) - 1;
  auto sub_bucket_index = static_cast<std::uint64_t>(index & static_cast<std::size_t>(half_count_ - 1)) +
                          static_cast<std::uint64_t>(half_count_);
  if (bucket_index < 0) {
    sub_bucket_index -= static_cast<std::uint64_t>(half_count_);
    bucket_index = 0;
  }
  return sub_bucket_index << (bucket_index + unit_magnitude_);
}

std::uint64_t latency_histogram::slot_width_at_index(std::size_t index) const noexcept {
  const int bucket_index = std::max(0, static_cast<int>(index >> half_count_magnitude_) - 1);
  return std::uint64_t{1} << (bucket_index + unit_magnitude_);
}

std::uint64_t latency_histogram::lowest_equivalent(std::uint64_t value_ns) const noexcept {
  return value_at_index(index_of(std::min(value_ns, top_value_)));
}

std::uint64_t latency_histogram::highest_equivalent(std::uint64_t value_ns) const noexcept {
  const std::size_t index = index_of(std::min(value_ns, top_value_));
  return value_at_index(index) + slot_width_at_index(index) - 1;
}

void latency_histogram::record(std::uint64_t value_ns, std::uint64_t count) noexcept {
  if (count == 0) return;
  std::uint64_t slot_value = value_ns;
  if (value_ns > top_value_) {
    // Out of range: still counted, so count() and the percentile ranks stay
    // true; only the reported value of that slot is capped (max() is exact).
    slot_value = top_value_;
    saturated_count_ += count;
  }
  counts_[index_of(slot_value)] += count;
  total_count_ += count;
  min_ = std::min(min_, value_ns);
  max_ = std::max(max_, value_ns);
  sum_ += static_cast<wide_sum>(value_ns) * count;
}

void latency_histogram::record(std::chrono::nanoseconds latency) noexcept {
  record(latency.count() < 0 ? std::uint64_t{0} : static_cast<std::uint64_t>(latency.count()));
}

bool latency_histogram::same_layout(const latency_histogram& other) const noexcept {
  return unit_magnitude_ == other.unit_magnitude_ && sub_bucket_count_ == other.sub_bucket_count_ &&
         counts_.size() == other.counts_.size() && top_value_ == other.top_value_;
}

void latency_histogram::merge(const latency_histogram& other) {
  if (!same_layout(other))
    throw std::invalid_argument("latency_histogram::merge: histograms have different ranges");
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_count_ += other.total_count_;
  saturated_count_ += other.saturated_count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void latency_histogram::reset() noexcept {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_count_ = 0;
  saturated_count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

latency_histogram::exact_figures latency_histogram::exact() const noexcept {
  return exact_figures{min(), max_, sum_, saturated_count_};
}

bool latency_histogram::restore_exact(const exact_figures& f) noexcept {
  if (total_count_ == 0) return f.min == 0 && f.max == 0 && f.sum == 0 && f.saturated == 0;
  std::size_t first = 0;
  while (counts_[first] == 0) ++first;
  std::size_t last = counts_.size() - 1;
  while (counts_[last] == 0) --last;
  const std::size_t top = index_of(top_value_);
  if (f.min > f.max) return false;
  if (index_of(std::min(f.min, top_value_)) != first || index_of(std::min(f.max, top_value_)) != last) return false;
  if (f.saturated > counts_[top] || (f.saturated > 0 && f.max <= top_value_)) return false;
  wide_sum lowest = 0, highest = 0;
  for (std::size_t i = first; i <= last; ++i) {
    lowest += static_cast<wide_sum>(value_at_index(i)) * counts_[i];
    highest += static_cast<wide_sum>(value_at_index(i) + slot_width_at_index(i) - 1) * counts_[i];
  }
  highest += static_cast<wide_sum>(f.max) * f.saturated;
  if (f.sum < lowest || f.sum > highest) return false;
  min_ = f.min;
  max_ = f.max;
  sum_ = f.sum;
  saturated_count_ = f.saturated;
  return true;
}

bool latency_histogram::operator==(const latency_histogram& other) const noexcept {
  return range_.lowest_discernible_ns == other.range_.lowest_discernible_ns &&
         range_.highest_trackable_ns == other.range_.highest_trackable_ns &&
         range_.significant_digits == other.range_.significant_digits && counts_ == other.counts_ &&
         total_count_ == other.total_count_ && saturated_count_ == other.saturated_count_ && min() == other.min() &&
         max_ == other.max_ && sum_ == other.sum_;
}

double latency_histogram::mean() const noexcept {
  if (total_count_ == 0) return 0.0;
  return static_cast<double>(sum_) / static_cast<double>(total_count_);
}

double latency_histogram::stddev() const noexcept {
  if (total_count_ == 0) return 0.0;
  const double m = mean();
  double squares = 0.0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (counts_[i] == 0) continue;
    // Slot midpoint, kept inside the exact extremes so that a histogram of one
    // repeated value has a deviation of zero.
    const std::uint64_t lowest = value_at_index(i);
    const std::uint64_t mid = std::clamp(lowest + slot_width_at_index(i) / 2, min_, max_);
    const double delta = static_cast<double>(mid) - m;
    squares += delta * delta * static_cast<double>(counts_[i]);
  }
  return std::sqrt(squares / static_cast<double>(total_count_));
}

std::uint64_t latency_histogram::value_at_percentile(double percentile) const noexcept {
  if (total_count_ == 0) return 0;
  if (!(percentile > 0.0)) percentile = 0.0;  // also catches NaN
  if (percentile > 100.0) percentile = 100.0;
  const std::uint64_t rank = nearest_rank(percentile, total_count_);
  // The extreme ranks are the exact extremes; no slot rounding needed.
  if (rank == 1) return min_;
  if (rank == total_count_) return max_;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t top = value_at_index(i) + slot_width_at_index(i) - 1;
      return std::clamp(top, min_, max_);
    }
  }
  return max_;  // unreachable while counts_ sum to total_count_
}

// --- bucket iteration -------------------------------------------------------

latency_histogram::bucket_iterator::bucket_iterator(const latency_histogram* owner, std::size_t index)
    : owner_(owner), index_(index) {
  skip_empty();
}

void latency_histogram::bucket_iterator::skip_empty() {
  while (index_ < owner_->counts_.size() && owner_->counts_[index_] == 0) ++index_;
}

latency_histogram::bucket latency_histogram::bucket_iterator::operator*() const {
  const std::uint64_t lowest = owner_->value_at_index(index_);
  return bucket{lowest, lowest + owner_->slot_width_at_index(index_) - 1, owner_->counts_[index_]};
}

latency_histogram::bucket_iterator& latency_histogram::bucket_iterator::operator++() {
  ++index_;
  skip_empty();
  return *this;
}

latency_histogram::bucket_iterator latency_histogram::bucket_iterator::operator++(int) {
  bucket_iterator before = *this;
  ++*this;
  return before;
}

latency_histogram::bucket_range latency_histogram::buckets() const {
  return bucket_range{bucket_iterator(this, 0), bucket_iterator(this, counts_.size())};
}

// --- .hgrm output -----------------------------------------------------------

// The layout HdrHistogram's outputPercentileDistribution() prints and its
// plotter parses: a header, one row per reporting point, the last row (100%)
// without the 1/(1-Percentile) column, then three '#[' footer lines. Reporting
// points: starting at 0%, each halving of the distance to 100% gets
// `ticks_per_half` points; at each recorded slot, every point its cumulative
// percentile has reached is printed. snprintf is used for the C locale's '.',
// whatever the stream is imbued with; a parser expects exactly that.
void latency_histogram::write_hgrm(std::ostream& out, double ns_per_output_unit) const {
  constexpr int ticks_per_half = 5;
  const int decimals = range_.significant_digits;
  char line[160];

  std::snprintf(line, sizeof line, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)");
  out << line;

  auto scaled = [&](std::uint64_t ns) { return static_cast<double>(ns) / ns_per_output_unit; };

  if (total_count_ > 0) {
    double level = 0.0;  // percent, the next reporting point
    std::uint64_t cumulative = 0;
    std::uint64_t last_value = max_;
    for (std::size_t i = 0; i < counts_.size() && cumulative < total_count_; ++i) {
      if (counts_[i] == 0) continue;
      cumulative += counts_[i];
      const std::uint64_t value = std::min(value_at_index(i) + slot_width_at_index(i) - 1, max_);
      last_value = value;
      const double reached = 100.0 * static_cast<double>(cumulative) / static_cast<double>(total_count_);
      // level < 100: with astronomically large counts the points crowd
      // against 100% until an increment no longer changes a double.
      while (reached >= level && level < 100.0) {
        const double fraction = level / 100.0;
        std::snprintf(line, sizeof line, "%12.*f %2.12f %10llu %14.2f\n", decimals, scaled(value), fraction,
                      static_cast<unsigned long long>(cumulative), 1.0 / (1.0 - fraction));
        out << line;
        const auto halvings = static_cast<long long>(std::log(100.0 / (100.0 - level)) / std::log(2.0));
        const double ticks = ticks_per_half * std::pow(2.0, static_cast<double>(halvings + 1));
        const double next = level + 100.0 / ticks;
        level = next > level ? next : 100.0;
        // The last slot gets one row here and the 100% row below.
        if (cumulative == total_count_) break;
      }
    }
    std::snprintf(line, sizeof line, "%12.*f %2.12f %10llu\n", decimals, scaled(last_value), 1.0,
                  static_cast<unsigned long long>(total_count_));
    out << line;
  }

  std::snprintf(line, sizeof line, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", decimals,
                mean() / ns_per_output_unit, decimals, stddev() / ns_per_output_unit);
  out << line;
  std::snprintf(line, sizeof line, "#[Max     = %12.*f, Total count    = %12llu]\n", decimals, scaled(max_),
                static_cast<unsigned long long>(total_count_));
  out << line;
  std::snprintf(line, sizeof line, "#[Buckets = %12d, SubBuckets     = %12d]\n", bucket_count_, sub_bucket_count_);
  out << line;
}

}  // namespace sigkit::metrics
