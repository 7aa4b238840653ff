// Cost of latency_histogram on sigbench's hot path (record) and at the end of
// a run (merge, percentiles). Values are drawn up front so the figures are the
// histogram's, not the random generator's.
#include "sigkit/metrics/histogram.hpp"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using sigkit::metrics::histogram_range;
using sigkit::metrics::latency_histogram;

// Log-normal around 1 ms with a long tail, 64k values: a cache-friendly table
// that still touches many slots.
const std::vector<std::uint64_t>& latencies() {
  static const std::vector<std::uint64_t> values = [] {
    std::mt19937_64 rng(1);
    std::lognormal_distribution<double> d(std::log(1e6), 1.5);
    std::vector<std::uint64_t> out(1 << 16);
    for (auto& v : out) v = static_cast<std::uint64_t>(d(rng));
    return out;
  }();
  return values;
}

void record_spread(benchmark::State& state) {
  latency_histogram h(histogram_range{.significant_digits = static_cast<int>(state.range(0))});
  const auto& values = latencies();
  std::size_t i = 0;
  for (auto _ : state) {
    h.record(values[i]);
    i = (i + 1) & (values.size() - 1);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(record_spread)->Arg(2)->Arg(3);

void record_same_value(benchmark::State& state) {
  latency_histogram h;
  std::uint64_t v = 1'234'567;
  for (auto _ : state) {
    benchmark::DoNotOptimize(v);
    h.record(v);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(record_same_value);

void merge(benchmark::State& state) {
  const histogram_range range{.significant_digits = static_cast<int>(state.range(0))};
  latency_histogram from(range);
  for (const auto v : latencies()) from.record(v);
  latency_histogram into(range);
  for (auto _ : state) {
    into.merge(from);
    benchmark::ClobberMemory();
  }
  state.counters["slots"] = static_cast<double>(from.bucket_count() + 1) * from.sub_bucket_count() / 2;
}
BENCHMARK(merge)->Arg(2)->Arg(3);

void percentile_p99(benchmark::State& state) {
  latency_histogram h;
  for (const auto v : latencies()) h.record(v);
  for (auto _ : state) benchmark::DoNotOptimize(h.value_at_percentile(99.0));
}
BENCHMARK(percentile_p99);

}  // namespace

BENCHMARK_MAIN();
