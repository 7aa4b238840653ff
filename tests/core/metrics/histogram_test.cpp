#include "sigkit/metrics/histogram.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using sigkit::metrics::histogram_range;
using sigkit::metrics::latency_histogram;

namespace {

constexpr std::uint64_t us = 1'000;
constexpr std::uint64_t ms = 1'000'000;
constexpr std::uint64_t sec = 1'000'000'000;

// Percentiles as integers in units of 1/100000 %, so the reference rank below
// is computed exactly, independently of the histogram's floating point.
constexpr std::uint64_t percent_units = 100'000;
const std::vector<std::uint64_t> checked_percentiles{
    0, 1'000, 100'000, 1'000'000, 2'500'000, 5'000'000, 7'500'000, 9'000'000, 9'500'000,
    9'900'000, 9'950'000, 9'990'000, 9'999'000, 9'999'900, 10'000'000};

// Nearest rank: the smallest rank r with r >= p/100 * n, at least 1.
std::uint64_t reference_percentile(const std::vector<std::uint64_t>& sorted, std::uint64_t p_units) {
  const std::uint64_t scale = 100 * percent_units;
  std::uint64_t rank = (p_units * sorted.size() + scale - 1) / scale;
  rank = std::clamp<std::uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Checks every percentile against the sorted samples: never below the true
// sample, and above it by less than the stated bound (or one resolution step
// in the linear range below half_count * resolution).
void check_percentiles(const latency_histogram& h, std::vector<std::uint64_t> samples) {
  std::sort(samples.begin(), samples.end());
  REQUIRE(h.count() == samples.size());
  for (const std::uint64_t p_units : checked_percentiles) {
    const double p = static_cast<double>(p_units) / static_cast<double>(percent_units);
    const std::uint64_t expected = reference_percentile(samples, p_units);
    const std::uint64_t got = h.value_at_percentile(p);
    INFO("p" << p << " expected " << expected << " got " << got);
    CHECK(got >= expected);
    const double allowed = std::max(static_cast<double>(h.resolution_ns() - 1),
                                    static_cast<double>(expected) * h.relative_error_bound());
    CHECK(static_cast<double>(got - expected) <= allowed);
  }
}

latency_histogram recorded(const std::vector<std::uint64_t>& samples, histogram_range range = {}) {
  latency_histogram h(range);
  for (const std::uint64_t v : samples) h.record(v);
  return h;
}

std::vector<std::uint64_t> log_uniform(std::mt19937_64& rng, std::size_t n, double lo, double hi) {
  std::uniform_real_distribution<double> exponent(std::log(lo), std::log(hi));
  std::vector<std::uint64_t> out(n);
  for (auto& v : out) v = static_cast<std::uint64_t>(std::exp(exponent(rng)));
  return out;
}

// 99% around 1 ms, 1% around 2 s: a server that mostly answers and sometimes
// stalls. The p99/p99.9 boundary falls between the modes.
std::vector<std::uint64_t> bimodal(std::mt19937_64& rng, std::size_t n) {
  std::normal_distribution<double> fast(1.0 * ms, 0.1 * ms);
  std::normal_distribution<double> stalled(2.0 * sec, 0.3 * sec);
  std::bernoulli_distribution is_stall(0.01);
  std::vector<std::uint64_t> out(n);
  for (auto& v : out) v = static_cast<std::uint64_t>(std::max(1.0, is_stall(rng) ? stalled(rng) : fast(rng)));
  return out;
}

// Pareto with alpha 1.1: the mean barely exists, the tail spans many decades.
std::vector<std::uint64_t> heavy_tail(std::mt19937_64& rng, std::size_t n) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<std::uint64_t> out(n);
  for (auto& v : out) v = static_cast<std::uint64_t>(std::min(50.0 * us / std::pow(1.0 - u(rng), 1.0 / 1.1), 3000.0 * sec));
  return out;
}

// Values on and next to the slot edges, where an off-by-one in the index
// arithmetic would show.
std::vector<std::uint64_t> slot_edges() {
  std::vector<std::uint64_t> out;
  for (int bit = 0; bit < 42; ++bit) {
    const std::uint64_t power = std::uint64_t{1} << bit;
    for (const std::uint64_t v : {power - 1, power, power + 1, power + power / 2}) out.push_back(v);
  }
  return out;
}

struct hgrm_row {
  double value;
  double percentile;
  std::uint64_t total_count;
  bool has_inverse;
};

struct hgrm_file {
  std::string header;
  std::vector<hgrm_row> rows;
  std::vector<std::string> footer;
};

hgrm_file parse_hgrm(const std::string& text) {
  hgrm_file file;
  std::istringstream in(text);
  std::string line;
  std::getline(in, file.header);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("#[", 0) == 0) {
      file.footer.push_back(line);
      continue;
    }
    std::istringstream fields(line);
    hgrm_row row{};
    double inverse = 0;
    REQUIRE(static_cast<bool>(fields >> row.value >> row.percentile >> row.total_count));
    row.has_inverse = static_cast<bool>(fields >> inverse);
    file.rows.push_back(row);
  }
  return file;
}

// The number after "<label> =" in a footer line.
double footer_field(const std::string& line, const std::string& label) {
  const auto at = line.find(label);
  REQUIRE(at != std::string::npos);
  const auto eq = line.find('=', at);
  return std::stod(line.substr(eq + 1));
}

}  // namespace

TEST_CASE("histogram layout matches the stated error bound", "[histogram]") {
  const latency_histogram three_digits;
  CHECK(three_digits.sub_bucket_count() == 2048);
  CHECK(three_digits.relative_error_bound() == Approx(1.0 / 1024));
  CHECK(three_digits.resolution_ns() == 1);

  const latency_histogram two_digits(histogram_range{.significant_digits = 2});
  CHECK(two_digits.sub_bucket_count() == 256);
  CHECK(two_digits.relative_error_bound() < 0.01);  // the requirement
  CHECK(two_digits.memory_bytes() < three_digits.memory_bytes() / 4);

  // Every value in range sits in a slot no wider than the bound allows.
  std::mt19937_64 rng(1);
  for (const latency_histogram* h : {&three_digits, &two_digits}) {
    for (const std::uint64_t v : log_uniform(rng, 20'000, 1, 3.6e12)) {
      const std::uint64_t lowest = h->lowest_equivalent(v);
      const std::uint64_t highest = h->highest_equivalent(v);
      INFO("value " << v << " slot [" << lowest << ", " << highest << "]");
      REQUIRE(lowest <= v);
      REQUIRE(v <= highest);
      REQUIRE(static_cast<double>(highest - lowest) <= static_cast<double>(v) * h->relative_error_bound());
    }
  }
}

TEST_CASE("small values are exact at 1 ns resolution", "[histogram]") {
  const latency_histogram h;
  for (std::uint64_t v = 0; v < 2048; ++v) {
    REQUIRE(h.lowest_equivalent(v) == v);
    REQUIRE(h.highest_equivalent(v) == v);
  }
}

TEST_CASE("percentiles match a sorted-array reference within the bound", "[histogram]") {
  std::mt19937_64 rng(42);

  SECTION("log-uniform from 1 us to 10 s") {
    const auto samples = log_uniform(rng, 100'000, 1.0 * us, 10.0 * sec);
    check_percentiles(recorded(samples), samples);
  }
  SECTION("bimodal: fast answers and rare stalls") {
    const auto samples = bimodal(rng, 100'000);
    check_percentiles(recorded(samples), samples);
  }
  SECTION("heavy tail") {
    const auto samples = heavy_tail(rng, 100'000);
    check_percentiles(recorded(samples), samples);
  }
  SECTION("values on slot edges") {
    const auto samples = slot_edges();
    check_percentiles(recorded(samples), samples);
  }
  SECTION("a single repeated value") {
    const std::vector<std::uint64_t> samples(1000, 12'345'678);
    const auto h = recorded(samples);
    check_percentiles(h, samples);
    CHECK(h.value_at_percentile(50) == 12'345'678);  // clamped to the exact extremes
  }
  SECTION("two digits of precision stay under 1%") {
    const auto samples = bimodal(rng, 50'000);
    check_percentiles(recorded(samples, histogram_range{.significant_digits = 2}), samples);
  }
  SECTION("microsecond resolution: relative bound above the linear range") {
    const auto samples = log_uniform(rng, 50'000, 1.0 * us, 100.0 * sec);
    check_percentiles(recorded(samples, histogram_range{.lowest_discernible_ns = 1000}), samples);
  }
}

TEST_CASE("rank boundaries follow nearest rank exactly", "[histogram]") {
  // Distinct values the histogram holds exactly (1 ns resolution, fewer than
  // 2048 of them), so any off-by-one in the rank shows as a wrong value.
  latency_histogram h;
  for (std::uint64_t i = 1; i <= 1'000; ++i) h.record(i);
  CHECK(h.value_at_percentile(99.9) == 999);  // rank 999, not 1000
  CHECK(h.value_at_percentile(99) == 990);
  CHECK(h.value_at_percentile(50) == 500);
  CHECK(h.value_at_percentile(50.05) == 501);
  CHECK(h.value_at_percentile(0.1) == 1);
  CHECK(h.value_at_percentile(0.15) == 2);
  CHECK(h.value_at_percentile(0) == 1);
  CHECK(h.value_at_percentile(100) == 1'000);
  CHECK(h.value_at_percentile(-5) == 1);       // clamped
  CHECK(h.value_at_percentile(250) == 1'000);  // clamped
  CHECK(h.value_at_percentile(std::nan("")) == 1);

  // 10000 values at 5 significant digits, again held exactly: p99.9 is rank
  // 9990 and p99.99 rank 9999, where 99.9 / 100 * 10000 in floating point
  // is a hair above 9990.
  latency_histogram fine(histogram_range{.highest_trackable_ns = 1'000'000, .significant_digits = 5});
  for (std::uint64_t i = 1; i <= 10'000; ++i) fine.record(i);
  CHECK(fine.value_at_percentile(99.9) == 9'990);
  CHECK(fine.value_at_percentile(99.99) == 9'999);
  CHECK(fine.value_at_percentile(99.999) == 10'000);
  CHECK(fine.value_at_percentile(12.34) == 1'234);
}

TEST_CASE("min and max are exact, not slot bounds", "[histogram]") {
  latency_histogram h;
  h.record(123'457);
  h.record(999'999'937);
  h.record(5 * ms);
  CHECK(h.min() == 123'457);
  CHECK(h.max() == 999'999'937);
  CHECK(h.highest_equivalent(999'999'937) != 999'999'937);  // so the check above means something
  CHECK(h.value_at_percentile(100) == 999'999'937);
  CHECK(h.value_at_percentile(0) == 123'457);
}

TEST_CASE("mean is exact and stddev within the bound", "[histogram]") {
  latency_histogram h;
  h.record(1'000'001, 3);
  h.record(3'000'003, 1);
  CHECK(h.mean() == Approx(1'500'001.5).epsilon(1e-12));

  latency_histogram pair;
  pair.record(1 * sec);
  pair.record(3 * sec);
  CHECK(pair.stddev() == Approx(1.0 * sec).epsilon(pair.relative_error_bound()));

  latency_histogram same;
  same.record(7'777'777, 50);
  CHECK(same.stddev() == 0.0);
}

TEST_CASE("record with a count equals recording one by one", "[histogram]") {
  latency_histogram bulk;
  latency_histogram single;
  bulk.record(250 * us, 1000);
  bulk.record(3 * ms, 7);
  for (int i = 0; i < 1000; ++i) single.record(250 * us);
  for (int i = 0; i < 7; ++i) single.record(3 * ms);
  CHECK(bulk.count() == single.count());
  CHECK(bulk.mean() == single.mean());
  for (const double p : {0.0, 50.0, 99.0, 99.5, 100.0}) CHECK(bulk.value_at_percentile(p) == single.value_at_percentile(p));

  latency_histogram none;
  none.record(5 * ms, 0);
  CHECK(none.empty());
  CHECK(none.max() == 0);
}

TEST_CASE("chrono durations are recorded in nanoseconds", "[histogram]") {
  latency_histogram h;
  h.record(std::chrono::milliseconds(20));
  h.record(std::chrono::nanoseconds(-5));  // clock misuse: counted as 0, not as 2^64 - 5
  CHECK(h.count() == 2);
  CHECK(h.max() == 20 * ms);
  CHECK(h.min() == 0);
}

TEST_CASE("an empty histogram reports zeros and no rows", "[histogram]") {
  const latency_histogram h;
  CHECK(h.empty());
  CHECK(h.count() == 0);
  CHECK(h.min() == 0);
  CHECK(h.max() == 0);
  CHECK(h.mean() == 0.0);
  CHECK(h.stddev() == 0.0);
  CHECK(h.value_at_percentile(99) == 0);
  CHECK(h.buckets().begin() == h.buckets().end());

  std::ostringstream out;
  h.write_hgrm(out);
  const hgrm_file file = parse_hgrm(out.str());
  CHECK(file.rows.empty());
  REQUIRE(file.footer.size() == 3);
  CHECK(footer_field(file.footer[1], "Total count") == 0);
}

TEST_CASE("merge equals recording everything into one histogram", "[histogram]") {
  std::mt19937_64 rng(7);
  auto samples = bimodal(rng, 40'000);
  const auto tail = heavy_tail(rng, 10'000);
  samples.insert(samples.end(), tail.begin(), tail.end());

  latency_histogram all;
  std::vector<latency_histogram> per_thread(4);
  std::uniform_int_distribution<std::size_t> pick(0, per_thread.size() - 1);
  for (const std::uint64_t v : samples) {
    all.record(v);
    per_thread[pick(rng)].record(v);
  }
  latency_histogram merged;
  for (const auto& h : per_thread) merged.merge(h);

  CHECK(merged.count() == all.count());
  CHECK(merged.min() == all.min());
  CHECK(merged.max() == all.max());
  CHECK(merged.mean() == all.mean());
  CHECK(merged.stddev() == all.stddev());
  std::vector<latency_histogram::bucket> a(all.buckets().begin(), all.buckets().end());
  std::vector<latency_histogram::bucket> b(merged.buckets().begin(), merged.buckets().end());
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].lowest_ns == b[i].lowest_ns);
    CHECK(a[i].count == b[i].count);
  }
  for (const std::uint64_t p_units : checked_percentiles) {
    const double p = static_cast<double>(p_units) / static_cast<double>(percent_units);
    CHECK(merged.value_at_percentile(p) == all.value_at_percentile(p));
  }
  check_percentiles(merged, samples);

  SECTION("merging an empty histogram changes nothing") {
    const auto before = merged.value_at_percentile(99);
    merged.merge(latency_histogram{});
    CHECK(merged.count() == all.count());
    CHECK(merged.min() == all.min());
    CHECK(merged.value_at_percentile(99) == before);
  }
  SECTION("histograms of different ranges do not merge") {
    CHECK_THROWS_AS(merged.merge(latency_histogram(histogram_range{.significant_digits = 2})),
                    std::invalid_argument);
  }
}

TEST_CASE("non-empty buckets are iterated in order", "[histogram]") {
  latency_histogram h;
  h.record(5 * ms, 3);
  h.record(1 * us);
  h.record(2 * sec, 2);
  std::vector<latency_histogram::bucket> seen(h.buckets().begin(), h.buckets().end());
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].count == 1);
  CHECK(seen[0].lowest_ns == 1 * us);
  CHECK(seen[1].count == 3);
  CHECK(seen[1].lowest_ns <= 5 * ms);
  CHECK(seen[1].highest_ns >= 5 * ms);
  CHECK(seen[2].count == 2);
  CHECK(seen[2].lowest_ns > seen[1].highest_ns);
}

TEST_CASE("values beyond the range are counted, capped and flagged", "[histogram]") {
  latency_histogram h(histogram_range{.highest_trackable_ns = 10 * sec});
  h.record(1 * ms, 98);
  h.record(2 * 3600 * sec, 2);  // a two-hour stall
  CHECK(h.count() == 100);
  CHECK(h.saturated_count() == 2);
  CHECK(h.max() == 2 * 3600 * sec);
  CHECK(h.value_at_percentile(100) == 2 * 3600 * sec);
  CHECK(h.value_at_percentile(99) >= 10 * sec);  // the stall shows, capped at the range
  CHECK(h.value_at_percentile(98) < 2 * ms);
}

TEST_CASE("memory is fixed whatever the sample count", "[histogram]") {
  latency_histogram h;
  const std::size_t before = h.memory_bytes();
  std::mt19937_64 rng(3);
  for (const std::uint64_t v : log_uniform(rng, 200'000, 1, 3.6e12)) h.record(v);
  CHECK(h.memory_bytes() == before);
  CHECK(before < 300'000);  // 1 ns .. 1 h at 3 digits: 33 x 1024 slots of 8 bytes
}

TEST_CASE("reset empties the histogram", "[histogram]") {
  latency_histogram h;
  h.record(3 * ms, 10);
  h.reset();
  CHECK(h.empty());
  CHECK(h.max() == 0);
  CHECK(h.min() == 0);
  h.record(1 * ms);
  CHECK(h.min() == 1 * ms);
  CHECK(h.value_at_percentile(50) == 1 * ms);
}

TEST_CASE("impossible ranges are rejected at construction", "[histogram]") {
  CHECK_THROWS_AS(latency_histogram(histogram_range{.significant_digits = 0}), std::invalid_argument);
  CHECK_THROWS_AS(latency_histogram(histogram_range{.significant_digits = 6}), std::invalid_argument);
  CHECK_THROWS_AS(latency_histogram(histogram_range{.lowest_discernible_ns = 0}), std::invalid_argument);
  CHECK_THROWS_AS(latency_histogram(histogram_range{.lowest_discernible_ns = 1000, .highest_trackable_ns = 1500}),
                  std::invalid_argument);
}

TEST_CASE("hgrm output has HdrHistogram's layout and parses back", "[histogram][hgrm]") {
  SECTION("two samples give the reporting points 0..50% by 10, 55%, then 100%") {
    latency_histogram h;
    h.record(1 * ms);
    h.record(3 * ms);
    std::ostringstream out;
    h.write_hgrm(out, sigkit::metrics::ns_per_ms);
    const std::string text = out.str();
    INFO(text);
    CHECK(text.rfind("       Value     Percentile TotalCount 1/(1-Percentile)\n\n", 0) == 0);
    const hgrm_file file = parse_hgrm(text);
    REQUIRE(file.rows.size() == 8);
    const std::vector<double> percentiles{0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 1.0};
    for (std::size_t i = 0; i < 8; ++i) CHECK(file.rows[i].percentile == Approx(percentiles[i]));
    for (std::size_t i = 0; i < 6; ++i) CHECK(file.rows[i].value == Approx(1.0));
    CHECK(file.rows[6].value == Approx(3.0));
    CHECK(file.rows[7].value == Approx(3.0));
    CHECK(file.rows[7].total_count == 2);
    CHECK_FALSE(file.rows[7].has_inverse);  // 1/(1-1.0) is left out, as HdrHistogram does
    CHECK(file.rows[6].has_inverse);
    CHECK(text.find("     1.000 0.000000000000          1           1.00\n") != std::string::npos);
    CHECK(text.find("#[Max     =        3.000, Total count    =            2]\n") != std::string::npos);
    CHECK(text.find("#[Buckets =           32, SubBuckets     =         2048]\n") != std::string::npos);
  }

  SECTION("a single sample gives the 0% and 100% rows") {
    latency_histogram h;
    h.record(42 * us);
    std::ostringstream out;
    h.write_hgrm(out, sigkit::metrics::ns_per_us);
    const hgrm_file file = parse_hgrm(out.str());
    REQUIRE(file.rows.size() == 2);
    CHECK(file.rows[0].percentile == 0.0);
    CHECK(file.rows[1].percentile == 1.0);
    CHECK(file.rows[1].value == Approx(42.0));
  }

  SECTION("random data: monotone rows ending at 100% with the total count") {
    std::mt19937_64 rng(11);
    const auto samples = bimodal(rng, 100'000);
    const latency_histogram h = recorded(samples);
    std::ostringstream out;
    h.write_hgrm(out, sigkit::metrics::ns_per_ms);
    const hgrm_file file = parse_hgrm(out.str());
    REQUIRE(file.rows.size() > 50);
    for (std::size_t i = 1; i < file.rows.size(); ++i) {
      CHECK(file.rows[i].value >= file.rows[i - 1].value);
      CHECK(file.rows[i].percentile > file.rows[i - 1].percentile);
      CHECK(file.rows[i].total_count >= file.rows[i - 1].total_count);
    }
    CHECK(file.rows.front().percentile == 0.0);
    CHECK(file.rows.back().percentile == 1.0);
    CHECK(file.rows.back().total_count == h.count());
    // Three decimals are printed (one per significant digit, as HdrHistogram
    // does): the parsed figures agree to half the last digit.
    constexpr double printed = 0.0005;
    CHECK(file.rows.back().value == Approx(static_cast<double>(h.max()) / 1e6).margin(printed));
    REQUIRE(file.footer.size() == 3);
    CHECK(footer_field(file.footer[0], "Mean") == Approx(h.mean() / 1e6).margin(printed));
    CHECK(footer_field(file.footer[0], "StdDeviation") == Approx(h.stddev() / 1e6).margin(printed));
    CHECK(footer_field(file.footer[1], "Max") == Approx(static_cast<double>(h.max()) / 1e6).margin(printed));
    CHECK(footer_field(file.footer[1], "Total count") == static_cast<double>(h.count()));
    CHECK(footer_field(file.footer[2], "Buckets") == h.bucket_count());
    CHECK(footer_field(file.footer[2], "SubBuckets") == h.sub_bucket_count());
    // A row says "this fraction of samples is at or below this value": the
    // histogram's own percentile at that level must not exceed it.
    for (const hgrm_row& row : file.rows)
      CHECK(static_cast<double>(h.value_at_percentile(row.percentile * 100.0)) / 1e6 <= row.value + printed);
  }
}
