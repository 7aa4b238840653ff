// What every generator loop of a run shares: the plan, the target, and the
// counters that the progress line and the abort decisions read. Everything
// else is a loop's own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sigkit/bench/dialect.hpp"
#include "sigkit/bench/scenario.hpp"
#include "sigkit/bench/schedule.hpp"
#include "sigkit/client/client.hpp"
#include "target.hpp"

typedef struct ssl_ctx_st SSL_CTX;

namespace sigkit::bench_engine {

using clock = std::chrono::steady_clock;

struct shared_run {
  shared_run(const bench::scenario& p, const bench::dialect& d, bench::arrival_schedule s, const std::atomic<bool>& stop_flag)
      : plan(p), speech(d), schedule(std::move(s)), stop(stop_flag) {}

  const bench::scenario& plan;
  const bench::dialect& speech;
  bench::arrival_schedule schedule;
  std::vector<target> targets;  // a room's member m connects to targets[m % size]
  std::vector<endpoint> sources;
  client::tls_context tls;  // wss:// only: one for every peer of the run
  SSL_CTX* tls_native = nullptr;
  std::string room_prefix;  // "bench-<run tag>-": rooms of two runs never meet
  std::string sdp;          // the offer/answer body, plain text
  clock::time_point start;
  const std::atomic<bool>& stop;

  // The rooms this process runs (its segment's) and how many may be in
  // flight at once (closed model).
  std::optional<std::uint64_t> segment_rooms;
  std::uint64_t closed_slots = 0;                 // peers (whole rooms) in flight at most
  std::atomic<std::uint64_t> slots_in_use{0};     // closed model: reserved by a room at its start, freed per closed socket
  std::atomic<std::uint64_t> next_room{0};        // closed model: the segment's next room to start
  std::vector<int> wake_fds;                      // closed model: each loop's, to say places are free

  std::atomic<bool> abort{false};
  std::mutex abort_mutex;
  std::string abort_reason;

  std::atomic<std::uint64_t> started{0}, connected_now{0}, peak_connected{0}, in_rooms{0};
  std::atomic<std::uint64_t> connected_total{0}, early_failures{0}, joined_total{0}, received_total{0};
  std::atomic<std::uint64_t> errors_total{0}, failed_total{0};
  std::atomic<std::int64_t> last_join_ns{0};

  bool stopping() const { return stop.load() || abort.load(); }
  void give_up(std::string reason) {
    std::lock_guard lock(abort_mutex);
    if (!abort.exchange(true)) abort_reason = std::move(reason);
  }
  std::int64_t since_start(clock::time_point t) const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t - start).count();
  }
};

}  // namespace sigkit::bench_engine
