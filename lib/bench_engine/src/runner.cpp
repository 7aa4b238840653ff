// The run: the plan's slice for this process, one generator loop per thread
// (room r of the slice on loop r % threads, so a room's members, its relay
// bookkeeping and the one-way latency clock are all one loop's), a sample a
// second for the timeline, and the loops' results merged at the end. A
// capacity search is a series of such runs.
#include "sigkit/bench_engine/runner.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>

#include <sys/resource.h>

#include "generator_loop.hpp"
#include "sigkit/bench/capacity.hpp"
#include "sigkit/bench/schedule.hpp"
#include "sigkit/client/tls_session.hpp"

namespace sigkit::bench_engine {

using namespace sigkit::bench;

namespace {

std::uint64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::uint64_t>(usage.ru_maxrss) * 1024;
}

std::string utc_now() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// A plausible SDP body of about `bytes` bytes: the server relays real offers
// of this size, so sigbench sends them too.
std::string fake_sdp(std::size_t bytes) {
  std::string sdp = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
  const std::string line = "a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n";
  while (sdp.size() < bytes) sdp += line;
  return sdp;
}

// A few random characters, so that rooms of two runs against one server
// (two CI jobs, say) never meet.
std::string run_tag() {
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::random_device seed;
  std::mt19937_64 random(seed());
  std::string tag;
  for (int i = 0; i < 6; ++i) tag += digits[random() % 36];
  return tag;
}

std::vector<std::string> all_urls(const scenario& plan) {
  std::vector<std::string> out{plan.url};
  out.insert(out.end(), plan.more_urls.begin(), plan.more_urls.end());
  return out;
}

// What a run needs before anything starts and what may go wrong there:
// mistakes in the plan are usage errors (invalid_argument); a target that
// cannot be resolved makes a report that says it was unreachable.
struct prepared {
  dialect speech;
  std::vector<client::ws_url> urls;
  client::tls_context tls;
  std::vector<endpoint> sources;
};

prepared prepare(const scenario& plan) {
  auto speech = dialect::load(plan.dialect);
  if (!speech) throw std::invalid_argument(speech.error());
  if (!speech->addresses_peers() && plan.room_size > 2)
    throw std::invalid_argument("dialect " + speech->name() +
                                " broadcasts relays to the whole room, so sigbench can check them in rooms of at most 2");
  if (plan.leave == leave_mode::bye && !speech->can_send(outbound_kind::bye))
    throw std::invalid_argument("dialect " + speech->name() + " has no bye message; use --leave leave or close");
  std::vector<client::ws_url> urls;
  for (const auto& text : all_urls(plan)) {
    auto url = client::parse_ws_url(text);
    if (!url) throw std::invalid_argument(url.error());
    if (!urls.empty() && url->tls != urls.front().tls)
      throw std::invalid_argument("the --url targets must all be ws:// or all wss://");
    urls.push_back(std::move(url.value()));
  }
  if (urls.size() > 255) throw std::invalid_argument("at most 255 --url targets");
  client::tls_context tls;
  if (urls.front().tls) {
    // One context for the run: loading the trust store once per peer would
    // cost more than its handshake.
    auto made = client::make_tls_context(plan.ca_file, plan.insecure);
    if (!made) {
      auto what = plan.ca_file.empty() ? std::string("the system's trusted certificates") : "the CA file " + plan.ca_file;
      throw std::invalid_argument("cannot load " + what + ": " + made.error().message());
    }
    tls = std::move(made.value());
  }
  std::vector<endpoint> sources;
  for (const auto& a : plan.source_addresses) {
    auto e = local_address(a);
    if (!e) throw std::invalid_argument(e.error());
    sources.push_back(e.value());
  }
  return {std::move(speech.value()), std::move(urls), std::move(tls), std::move(sources)};
}

report run_once(const scenario& plan, const prepared& setup, const progress_callback& on_progress,
                const std::atomic<bool>& stop, const live_status& step_status) {
  arrival_plan arrivals{plan.rate, plan.ramp_up, plan.peers, plan.duration};
  auto schedule = arrival_schedule::make(arrivals);
  if (!schedule) throw std::invalid_argument(schedule.error().message);
  const auto k = plan.room_size;
  const auto& slice = plan.slice;

  shared_run shared(plan, setup.speech, std::move(schedule.value()), stop);
  shared.tls = setup.tls;
  shared.tls_native = setup.tls ? client::native_handle(setup.tls) : nullptr;
  shared.sources = setup.sources;
  shared.sdp = fake_sdp(plan.sdp_bytes);
  shared.room_prefix = "bench-" + run_tag() + "-";
  // Only whole rooms are planned: a partial room could never negotiate.
  if (auto planned = shared.schedule.planned_peers()) shared.segment_rooms = slice.rooms_of(*planned / k);
  if (shared.schedule.model() == load_model::closed)
    shared.closed_slots = std::max<std::uint64_t>(1, slice.share_of(plan.concurrency / k)) * k;

  report out;
  for (const auto& u : all_urls(plan)) out.target += (out.target.empty() ? "" : " ") + u;
  out.scenario = plan.name;
  out.started_at = utc_now();
  out.threads = plan.threads;
  for (const char* name : {"connect", "join", "relay", "negotiation"}) out.latency.emplace(name, metrics::latency_histogram{});
  if (setup.urls.size() > 1) out.latency.emplace("relay_cross", metrics::latency_histogram{});
  out.planned = shared.segment_rooms ? *shared.segment_rooms * k : 0;

  // Each resolved once for the whole run, within the connect timeout.
  int family = setup.sources.empty() ? AF_UNSPEC : setup.sources.front().family();
  for (const auto& url : setup.urls) {
    auto server = resolve_once(url.host, url.port, family, plan.connect_timeout);
    if (!server) {
      out.aborted = "target unreachable: " + server.error();
      out.evaluate(plan.thresholds);
      return out;
    }
    // RFC 7230 §5.4: an IPv6 literal keeps its brackets in Host.
    auto host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    shared.targets.push_back({url, server.value(), host + ":" + url.port});
  }

  std::vector<std::unique_ptr<generator_loop>> loops;
  for (unsigned i = 0; i < plan.threads; ++i) loops.push_back(std::make_unique<generator_loop>(shared, i, plan.threads));
  for (auto& l : loops) shared.wake_fds.push_back(l->wake_fd());
  auto baseline_rss = peak_rss_bytes();
  shared.start = clock::now();

  std::atomic<unsigned> running{plan.threads};
  std::vector<std::thread> pool;
  for (auto& l : loops)
    pool.emplace_back([&l, &running] {
      l->run();
      running.fetch_sub(1);
    });

  // Sample once a second for the timeline and the progress line.
  std::uint64_t last_joins = 0, last_messages = 0;
  auto last_sample = shared.start;
  auto arrivals_end = 0.0;
  if (shared.schedule.model() == load_model::open && out.planned > 0)
    arrivals_end = std::chrono::duration<double>(*shared.schedule.intended_start(*shared.schedule.planned_peers() / k * k - 1)).count();
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto now = clock::now();
    if (now - last_sample < std::chrono::seconds(1)) continue;
    double dt = std::chrono::duration<double>(now - last_sample).count();
    last_sample = now;
    auto joins = shared.joined_total.load(), messages = shared.received_total.load();
    timeline_point point{std::chrono::duration<double>(now - shared.start).count(),
                         static_cast<double>(joins - last_joins) / dt,
                         static_cast<double>(messages - last_messages) / dt, shared.connected_now.load()};
    last_joins = joins;
    last_messages = messages;
    out.timeline.push_back(point);
    if (on_progress) {
      metrics::latency_histogram joins_so_far;
      for (auto& l : loops) {
        std::lock_guard lock(l->snapshot_mutex);
        joins_so_far.merge(l->join_snapshot);
      }
      live_status status = step_status;
      status.elapsed_s = point.t_s;
      status.arrivals_end_s = arrivals_end;
      status.started = shared.started.load();
      status.planned = out.planned;
      status.connected = shared.connected_now.load();
      status.in_rooms = shared.in_rooms.load();
      status.joins_per_s = point.joins_per_s;
      status.messages_per_s = point.messages_per_s;
      status.join_p99_ms = joins_so_far.empty() ? 0 : static_cast<double>(joins_so_far.value_at_percentile(99)) / 1e6;
      status.errors = shared.errors_total.load();
      status.failed = shared.failed_total.load();
      on_progress(status);
    }
  }
  for (auto& t : pool) t.join();
  auto end = clock::now();

  // Merge what every loop measured.
  late_start_tally late(plan.late_bound);
  for (auto& l : loops) {
    out.latency["connect"].merge(l->connect);
    out.latency["join"].merge(l->join);
    out.latency["relay"].merge(l->relay);
    if (setup.urls.size() > 1) out.latency["relay_cross"].merge(l->relay_cross);
    out.latency["negotiation"].merge(l->negotiation);
    out.connect_uncorrected.merge(l->connect_uncorrected);
    late.merge(l->late);
    out.connected += l->connected;
    out.joined += l->joined;
    out.failed += l->failed;
    out.sent += l->sent;
    out.received += l->received;
    out.duplicated += l->duplicated;
    out.misrouted += l->misrouted;
    out.lost += l->lost();
    for (const auto& [code, n] : l->errors) out.errors[code] += n;
    for (const auto& [why, n] : l->failures) out.failures[why] += n;
  }
  if (!shared.segment_rooms) out.planned = shared.started.load();
  out.duration_s = std::chrono::duration<double>(end - shared.start).count();
  double join_span = static_cast<double>(shared.last_join_ns.load()) / 1e9;
  out.join_rate = join_span > 0 ? static_cast<double>(out.joined) / join_span : 0;
  out.message_rate = out.duration_s > 0 ? static_cast<double>(out.received) / out.duration_s : 0;
  out.late_starts = late.late_starts();
  out.worst_lag_ms = std::chrono::duration<double, std::milli>(late.worst_lag()).count();
  out.saturated = late.starts() > 0 &&
                  static_cast<double>(late.late_starts()) > plan.max_late_fraction * static_cast<double>(late.starts());
  out.peak_rss_bytes = peak_rss_bytes();
  out.peak_connections = shared.peak_connected.load();
  // Per-connection memory is only meaningful when many are open at once;
  // otherwise fixed costs (histograms, thread arenas) dominate.
  if (out.peak_connections >= 1000 && out.peak_rss_bytes > baseline_rss)
    out.bytes_per_peer = static_cast<double>(out.peak_rss_bytes - baseline_rss) / static_cast<double>(out.peak_connections);
  if (shared.abort) out.aborted = shared.abort_reason;
  else if (stop) out.aborted = "interrupted";
  out.evaluate(plan.thresholds);
  return out;
}

// The rule that broke first, as the capacity curve names it.
std::string first_broken(const report& r) {
  for (const auto& v : r.verdicts)
    if (!v.ok) return describe(v);
  return {};
}

report search_capacity(const scenario& plan_in, const prepared& setup, const progress_callback& on_progress,
                       const std::atomic<bool>& stop) {
  scenario plan = plan_in;
  plan.peers.reset();
  if (!plan.duration) plan.duration = std::chrono::seconds(10);
  const threshold& condition = *plan.find_capacity;
  auto rules = plan.thresholds;
  rules.insert(rules.begin(), condition);
  plan.thresholds = rules;
  capacity_search search(condition, plan.rate_start, plan.rate_step.value_or(plan.rate_start));
  std::optional<report> best, last;
  while (!search.done()) {
    plan.rate = search.next_rate();
    live_status step_status;
    step_status.step = search.result().steps.size() + 1;
    step_status.step_rate = plan.rate;
    report r = run_once(plan, setup, on_progress, stop, step_status);
    if (r.aborted) {
      search.stop(*r.aborted == "interrupted" ? "interrupted at " + std::to_string(static_cast<long long>(plan.rate)) + "/s"
                                               : *r.aborted);
      last = std::move(r);
      break;
    }
    capacity_step step;
    step.rate = plan.rate;
    step.join_rate = r.join_rate;
    step.observed = r.metric(condition.metric);
    step.saturated = r.saturated;
    step.held = !r.saturated && r.thresholds_ok();
    if (!step.held && !step.saturated) step.broke = first_broken(r);
    search.record(step);
    if (step.held) best = std::move(r);
    else last = std::move(r);
  }
  // The report is that of the highest rate that held (else the last step),
  // with the whole search beside it.
  report out = best ? std::move(*best) : std::move(*last);
  out.capacity = search.result();
  // Saturation ended the search: the verdict is the capacity found, not the
  // generator's limit.
  if (best) out.saturated = false;
  return out;
}

}  // namespace

report run(const scenario& plan_in, const progress_callback& on_progress, const std::atomic<bool>& stop) {
  scenario plan = plan_in;
  if (plan.threads == 0)
    plan.threads = std::clamp(std::thread::hardware_concurrency(), 1u, static_cast<unsigned>(max_threads));
  auto setup = prepare(plan);
  if (plan.find_capacity) return search_capacity(plan, setup, on_progress, stop);
  return run_once(plan, setup, on_progress, stop, live_status{});
}

}  // namespace sigkit::bench_engine
