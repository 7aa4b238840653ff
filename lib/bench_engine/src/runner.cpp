// The load generator. Every room lives on one thread (room r on thread
// r % threads), so a room's members, its message bookkeeping and the
// one-way latency clock are all thread-local: no locks on the hot path.
// Peers negotiate as browsers do: the newer member offers to each older one,
// the older answers, both trickle candidates; every relay carries a sequence
// number, its send time and its room, so losses, duplicates and misroutes
// are counted and latency is measured one way.
#include "sigkit/bench_engine/runner.hpp"

#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <sys/resource.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sigkit/client/client.hpp"
#include "sigkit/bench/schedule.hpp"

namespace sigkit::bench_engine {

// The plan, the schedule and the report are the pure side of sigbench.
using namespace sigkit::bench;

namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using asio::awaitable;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

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

// A plausible SDP body of about `bytes` bytes, already JSON-escaped: the
// server relays real offers of this size, so sigbench sends them too.
std::string fake_sdp(std::size_t bytes) {
  std::string sdp = "v=0\\r\\no=- 4611731400430051336 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\n";
  const std::string line = "a=rtpmap:111 opus/48000/2\\r\\na=fmtp:111 minptime=10;useinbandfec=1\\r\\n";
  while (sdp.size() < bytes) sdp += line;
  return sdp;
}

// Counters shared by all threads, for the progress line and abort decisions.
struct shared_run {
  shared_run(const scenario& p, arrival_schedule s, client::tls_context t, std::string fake,
             const std::atomic<bool>& stop_flag)
      : plan(p), schedule(std::move(s)), tls(std::move(t)), start(clock::now()), sdp(std::move(fake)), stop(stop_flag) {}

  const scenario& plan;
  arrival_schedule schedule;
  client::tls_context tls;  // wss:// only: one for every peer of the run
  clock::time_point start;
  std::string sdp;
  const std::atomic<bool>& stop;
  std::atomic<bool> abort{false};
  std::mutex abort_mutex;
  std::string abort_reason;

  std::atomic<std::uint64_t> started{0}, connected_now{0}, peak_connected{0}, in_rooms{0};
  std::atomic<std::uint64_t> connected_total{0}, connect_failures{0}, joined_total{0}, received_total{0};
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

struct peer;

struct room {
  std::string name;
  std::size_t expected = 0;  // relays the room must deliver to complete negotiation
  std::size_t received = 0;
  std::optional<clock::time_point> first_offer;
  bool done = false;
  std::size_t members_ended = 0;
  std::vector<std::weak_ptr<peer>> members;
};

struct worker {
  worker(shared_run& r, unsigned i)
      : run(r), index(i), late(r.plan.late_bound), wake_driver(io) {}

  shared_run& run;
  unsigned index;
  asio::io_context io;

  // Thread-confined results, merged at the end.
  metrics::latency_histogram connect, connect_uncorrected, join, relay, negotiation;
  late_start_tally late;
  std::uint64_t connected = 0, joined = 0, failed = 0, sent = 0, received = 0, duplicated = 0, misrouted = 0;
  std::map<std::string, std::uint64_t> errors;
  std::map<std::string, std::uint64_t> failures;

  // Every relay in flight: sequence number -> the peer that must receive it.
  std::unordered_map<std::uint64_t, std::string> in_flight;
  std::uint64_t next_seq = 0;

  // Rooms being filled; peers share ownership, so a straggling reader can
  // never outlive its room.
  std::unordered_map<std::size_t, std::shared_ptr<room>> rooms;
  std::size_t active = 0;  // peers whose session has not ended
  bool driving = true;     // the schedule still has peers to start
  asio::steady_timer wake_driver;

  std::mutex snapshot_mutex;  // the progress line reads join_snapshot
  metrics::latency_histogram join_snapshot;

  std::shared_ptr<room> room_for(std::size_t index_of_room) {
    auto& slot = rooms[index_of_room];
    if (!slot) {
      slot = std::make_shared<room>();
      slot->name = "bench-" + std::to_string(index_of_room);
      auto k = run.plan.room_size;
      slot->expected = k * (k - 1) / 2 * (2 + 2 * run.plan.candidates);
    }
    return slot;
  }

  void note_error(const std::string& code) {
    ++errors[code];
    run.errors_total.fetch_add(1, std::memory_order_relaxed);
  }

  awaitable<void> drive();
};

struct peer : std::enable_shared_from_this<peer> {
  peer(worker& owner, std::shared_ptr<room> room_ptr, std::size_t room_number, std::uint64_t peer_number)
      : w(owner),
        room_(std::move(room_ptr)),
        r(*room_),
        room_index(room_number),
        index(peer_number),
        c(owner.io.get_executor()),
        wake(owner.io) {}

  worker& w;
  std::shared_ptr<room> room_;
  room& r;
  std::size_t room_index;
  std::uint64_t index;
  client::connection c;
  std::string id;
  std::vector<std::string> older;  // members already there when this peer joined
  std::size_t known = 0;           // other members this peer knows of
  bool joined = false, negotiating = false, reader_done = false;
  bool join_refused = false;
  clock::time_point join_sent;

  std::vector<std::string> outbox;  // short-lived; a deque would keep a 512-byte block per peer
  bool writing = false, close_requested = false;
  asio::steady_timer wake;  // cancelled when the room completes or the reader ends

  awaitable<void> session(clock::time_point intended, clock::time_point actual);
  awaitable<std::error_code> connect();
  awaitable<void> read_loop();
  awaitable<void> write_loop();
  void handle(const client::server_message& m);
  void maybe_negotiate();
  void send_relay(std::string_view type, const std::string& to);
  void enqueue(std::string frame);
  void on_relay(const client::server_message& m);
  void complete_room();
  // Waits until `done()` or the timeout; true if done.
  template <class Pred>
  awaitable<bool> wait_for(Pred done, clock::duration timeout) {
    auto deadline = clock::now() + timeout;
    while (!done()) {
      if (clock::now() >= deadline) co_return false;
      wake.expires_at(deadline);
      co_await wake.async_wait(use_tuple);
    }
    co_return true;
  }
};

// Its own coroutine, so that what connecting needs is freed before the
// session's long wait: a frame lives as long as its coroutine.
awaitable<std::error_code> peer::connect() {
  const auto& plan = w.run.plan;
  client::connect_options options;
  options.origin = plan.origin;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(plan.connect_timeout);
  if (!plan.source_addresses.empty())
    options.source_address = plan.source_addresses[index % plan.source_addresses.size()];
  options.tls = w.run.tls;
  co_return co_await c.connect(plan.url, std::move(options));
}

// Why a peer never got in, as the report's failures list it.
std::string failure_reason(const client::connection& c, std::error_code ec) {
  if (c.refusal_status()) return "HTTP " + std::to_string(c.refusal_status());
  if (ec.category() == client::tls_category()) return "TLS: " + ec.message();
  return ec.message();
}

awaitable<void> peer::session(clock::time_point intended, clock::time_point actual) {
  auto self = shared_from_this();
  auto& run = w.run;
  const auto& plan = run.plan;
  auto ec = co_await connect();
  if (ec) {
    auto why = failure_reason(c, ec);
    ++w.failed;
    ++w.failures[why];
    run.failed_total.fetch_add(1);
    auto failures = run.connect_failures.fetch_add(1) + 1;
    // Nothing has ever connected and attempt after attempt fails: the target
    // is unreachable (or its TLS unusable), and waiting for the rest of the
    // schedule helps nobody.
    if (run.connected_total.load() == 0 && failures >= 5) {
      if (ec.category() != client::tls_category()) run.give_up("target unreachable: " + why);
      else if (client::is_certificate_error(ec))
        run.give_up("no connection got past " + why + "; see --ca-file and --insecure");
      else run.give_up("no connection got past " + why);
    }
  } else {
    auto now = clock::now();
    w.connect.record(now - intended);
    w.connect_uncorrected.record(now - actual);
    ++w.connected;
    run.connected_total.fetch_add(1);
    auto open = run.connected_now.fetch_add(1) + 1;
    auto peak = run.peak_connected.load();
    while (open > peak && !run.peak_connected.compare_exchange_weak(peak, open)) {
    }
    id = c.welcome().peer;
    asio::co_spawn(w.io, [self]() { return self->read_loop(); }, asio::detached);

    join_sent = clock::now();
    enqueue("{\"type\":\"join\",\"room\":\"" + r.name + "\"}");
    // The room fills as its members arrive; give the last one time to come.
    auto fill_time = plan.rate > 0 ? std::chrono::duration_cast<clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(plan.room_size) / plan.rate))
                                   : clock::duration::zero();
    co_await wait_for([this] { return r.done || reader_done || join_refused; },
                      plan.negotiation_timeout + fill_time);
    if (r.done && plan.hold.count() > 0) {
      wake.expires_after(plan.hold);
      co_await wake.async_wait(use_tuple);
    }
    if (joined && !reader_done) {
      if (plan.leave == leave_mode::leave) enqueue(R"({"type":"leave"})");
      if (plan.leave == leave_mode::bye) enqueue(R"({"type":"bye"})");
    }
    close_requested = true;
    if (!writing) asio::co_spawn(w.io, [self]() { return self->write_loop(); }, asio::detached);
    co_await wait_for([this] { return reader_done; }, std::chrono::seconds(5));
    run.connected_now.fetch_sub(1);
    if (joined) run.in_rooms.fetch_sub(1);
  }
  if (++r.members_ended == plan.room_size) w.rooms.erase(room_index);
  --w.active;
  w.wake_driver.cancel();
}

awaitable<void> peer::read_loop() {
  auto self = shared_from_this();
  for (;;) {
    auto m = co_await c.receive();
    if (!m) {
      if (m.error() == std::error_code(client::errc::malformed_message)) {
        ++w.misrouted;  // not protocol v1: certainly not what was sent
        continue;
      }
      break;
    }
    handle(*m);
  }
  reader_done = true;
  wake.cancel();
}

awaitable<void> peer::write_loop() {
  auto self = shared_from_this();
  writing = true;
  for (std::size_t next = 0; next < outbox.size(); ++next) {
    if (co_await c.send_text(std::move(outbox[next]))) break;
  }
  outbox.clear();
  outbox.shrink_to_fit();
  if (close_requested) co_await c.close(1000);
  writing = false;
}

void peer::enqueue(std::string frame) {
  outbox.push_back(std::move(frame));
  if (!writing) asio::co_spawn(w.io, [self = shared_from_this()]() { return self->write_loop(); }, asio::detached);
}

void peer::handle(const client::server_message& m) {
  auto& run = w.run;
  switch (m.kind) {
    case client::message_kind::joined: {
      auto now = clock::now();
      w.join.record(now - join_sent);
      ++w.joined;
      run.joined_total.fetch_add(1, std::memory_order_relaxed);
      run.in_rooms.fetch_add(1, std::memory_order_relaxed);
      run.last_join_ns.store(run.since_start(now), std::memory_order_relaxed);
      joined = true;
      older = m.peers;
      known = older.size();
      maybe_negotiate();
      break;
    }
    case client::message_kind::peer_joined:
      ++known;
      maybe_negotiate();
      break;
    case client::message_kind::relay:
      on_relay(m);
      break;
    case client::message_kind::error:
      w.note_error(m.code);
      if (!joined) {  // room-full, invalid-room...: this session cannot go on
        join_refused = true;
        ++w.failed;
        ++w.failures[m.code];
        run.failed_total.fetch_add(1);
        wake.cancel();
      }
      break;
    default:
      break;  // welcome, pong, left, peer-left
  }
}

// The room is complete when this peer knows every other member; then it
// offers to each member that was there before it.
void peer::maybe_negotiate() {
  if (!joined || negotiating || known + 1 < w.run.plan.room_size) return;
  negotiating = true;
  if (!older.empty() && !r.first_offer) r.first_offer = clock::now();
  for (const auto& to : older) {
    send_relay("offer", to);
    for (std::uint64_t i = 0; i < w.run.plan.candidates; ++i) send_relay("candidate", to);
  }
}

void peer::send_relay(std::string_view type, const std::string& to) {
  auto seq = (static_cast<std::uint64_t>(w.index) << 48) | w.next_seq++;
  w.in_flight.emplace(seq, to);
  ++w.sent;
  std::string frame;
  frame.reserve(160 + (type == "candidate" ? 0 : w.run.sdp.size()));
  frame += "{\"type\":\"";
  frame += type;
  frame += "\",\"to\":\"";
  frame += to;
  frame += "\",\"bench\":{\"seq\":";
  frame += std::to_string(seq);
  frame += ",\"t\":";
  frame += std::to_string(w.run.since_start(clock::now()));
  frame += ",\"room\":\"";
  frame += r.name;
  frame += "\"},";
  if (type == "candidate") {
    frame += "\"candidate\":{\"candidate\":\"candidate:842163049 1 udp 1677729535 127.0.0.1 ";
    frame += std::to_string(40000 + w.next_seq % 20000);
    frame += " typ srflx raddr 0.0.0.0 rport 0 generation 0\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}";
  } else {
    frame += "\"sdp\":\"";
    frame += w.run.sdp;
    frame += "\"}";
  }
  enqueue(std::move(frame));
}

void peer::on_relay(const client::server_message& m) {
  auto now = clock::now();
  auto bench = m.body.find("bench");
  if (bench == m.body.end() || !bench->is_object() || !bench->contains("seq") || !(*bench)["seq"].is_number_unsigned()) {
    ++w.misrouted;  // a relay that sigbench never sent
    return;
  }
  auto seq = (*bench)["seq"].get<std::uint64_t>();
  if ((seq >> 48) != w.index || bench->value("room", "") != r.name) {
    ++w.misrouted;  // from another room: isolation broken
    return;
  }
  auto it = w.in_flight.find(seq);
  if (it == w.in_flight.end()) {
    ++w.duplicated;
    return;
  }
  if (it->second != id) {
    ++w.misrouted;  // right room, wrong peer; still in flight for its receiver
    return;
  }
  w.in_flight.erase(it);
  ++w.received;
  w.run.received_total.fetch_add(1, std::memory_order_relaxed);
  auto sent_at = w.run.start + std::chrono::nanoseconds(bench->value("t", std::int64_t{0}));
  w.relay.record(now - sent_at);

  if (m.type == "offer") {
    send_relay("answer", m.from);
    for (std::uint64_t i = 0; i < w.run.plan.candidates; ++i) send_relay("candidate", m.from);
  }
  if (++r.received == r.expected) complete_room();
}

void peer::complete_room() {
  r.done = true;
  if (r.first_offer) w.negotiation.record(clock::now() - *r.first_offer);
  for (auto& member : r.members)
    if (auto p = member.lock()) p->wake.cancel();
}

awaitable<void> worker::drive() {
  const auto& plan = run.plan;
  const auto threads = static_cast<std::size_t>(std::max(1u, plan.threads));
  const auto k = plan.room_size;
  const bool open = run.schedule.model() == load_model::open;
  // Closed model: this thread's share of the sessions in flight, at least a room.
  const auto slots = std::max<std::uint64_t>(k, plan.concurrency / threads);
  // Only whole rooms are started: a partial room could never negotiate.
  auto planned = run.schedule.planned_peers();
  if (planned) *planned = *planned / k * k;
  asio::steady_timer pause(io);

  for (std::uint64_t i = 0; !planned || i < *planned; ++i) {
    auto room_index = static_cast<std::size_t>(i / k);
    if (room_index % threads != index) continue;
    if (run.stopping()) break;
    clock::time_point intended;
    if (open) {
      intended = run.start + *run.schedule.intended_start(i);
      if (clock::now() < intended) {
        pause.expires_at(intended);
        co_await pause.async_wait(use_tuple);
        if (run.stopping()) break;
      }
    } else {
      // Closed, bounded by duration: stop at a room boundary once time is up.
      if (plan.duration && i % k == 0 && clock::now() - run.start >= *plan.duration) break;
      while (active >= slots && !run.stopping()) {
        wake_driver.expires_after(std::chrono::seconds(1));
        co_await wake_driver.async_wait(use_tuple);
      }
      if (run.stopping()) break;
      intended = clock::now();
    }
    auto actual = clock::now();
    if (open) late.observe(intended - run.start, actual - run.start);
    run.started.fetch_add(1, std::memory_order_relaxed);
    auto r = room_for(room_index);
    auto p = std::make_shared<peer>(*this, r, room_index, i);
    r->members.push_back(p);
    ++active;
    asio::co_spawn(io, p->session(intended, actual), asio::detached);
  }
  while (active > 0) {
    wake_driver.expires_after(std::chrono::milliseconds(200));
    co_await wake_driver.async_wait(use_tuple);
  }
  driving = false;
}

}  // namespace

report run(const scenario& plan_in, const progress_callback& on_progress, const std::atomic<bool>& stop) {
  scenario plan = plan_in;
  if (plan.threads == 0) plan.threads = std::max(1u, std::thread::hardware_concurrency());

  arrival_plan arrivals{plan.rate, plan.ramp_up, plan.peers, plan.duration};
  auto schedule = arrival_schedule::make(arrivals);
  if (!schedule) throw std::invalid_argument(schedule.error().message);

  // Mistakes in the target are the caller's, like a bad schedule: found
  // before anything starts.
  auto target = client::parse_ws_url(plan.url);
  if (!target) throw std::invalid_argument(target.error());
  client::tls_context tls;
  if (target->tls) {
    // One context for the run: loading the trust store once per peer would
    // cost more than its handshake.
    auto made = client::make_tls_context(plan.ca_file, plan.insecure);
    if (!made) {
      auto what = plan.ca_file.empty() ? std::string("the system's trusted certificates") : "the CA file " + plan.ca_file;
      throw std::invalid_argument("cannot load " + what + ": " + made.error().message());
    }
    tls = std::move(made.value());
  }

  shared_run shared(plan, std::move(schedule.value()), std::move(tls), fake_sdp(plan.sdp_bytes), stop);
  std::vector<std::unique_ptr<worker>> workers;
  for (unsigned i = 0; i < plan.threads; ++i) workers.push_back(std::make_unique<worker>(shared, i));
  auto baseline_rss = peak_rss_bytes();

  report out;
  out.target = plan.url;
  out.scenario = plan.name;
  out.started_at = utc_now();
  out.threads = plan.threads;
  shared.start = clock::now();

  std::atomic<unsigned> running{plan.threads};
  std::vector<std::thread> pool;
  for (auto& w : workers) {
    pool.emplace_back([&w, &running] {
      asio::co_spawn(w->io, w->drive(), asio::detached);
      // The progress line's p99 comes from a copy refreshed each second.
      asio::co_spawn(w->io, [&w]() -> awaitable<void> {
        asio::steady_timer tick(w->io);
        while (w->driving) {
          {
            std::lock_guard lock(w->snapshot_mutex);
            w->join_snapshot = w->join;
          }
          tick.expires_after(std::chrono::milliseconds(250));
          co_await tick.async_wait(use_tuple);
        }
      }, asio::detached);
      w->io.run();
      running.fetch_sub(1);
    });
  }

  // Sample once a second for the timeline and the progress line.
  std::uint64_t last_joins = 0, last_messages = 0;
  auto last_sample = shared.start;
  auto arrivals_end = shared.schedule.model() == load_model::open && shared.schedule.planned_peers()
                          ? std::chrono::duration<double>(
                                *shared.schedule.intended_start(*shared.schedule.planned_peers() - 1))
                                .count()
                          : 0.0;
  std::optional<clock::time_point> stop_seen;
  while (running.load() > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = clock::now();
    // After a stop or abort, in-flight sessions get a moment, then the loops end.
    if (shared.stopping() && !stop_seen) stop_seen = now;
    if (stop_seen && now - *stop_seen > std::chrono::seconds(2))
      for (auto& w : workers) w->io.stop();
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
      for (auto& w : workers) {
        std::lock_guard lock(w->snapshot_mutex);
        joins_so_far.merge(w->join_snapshot);
      }
      live_status status;
      status.elapsed_s = point.t_s;
      status.arrivals_end_s = arrivals_end;
      status.started = shared.started.load();
      status.planned = shared.schedule.planned_peers().value_or(0) / plan.room_size * plan.room_size;
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

  // Merge what every thread measured.
  late_start_tally late(plan.late_bound);
  for (const char* name : {"connect", "join", "relay", "negotiation"}) out.latency.emplace(name, metrics::latency_histogram{});
  for (auto& w : workers) {
    out.latency["connect"].merge(w->connect);
    out.latency["join"].merge(w->join);
    out.latency["relay"].merge(w->relay);
    out.latency["negotiation"].merge(w->negotiation);
    out.connect_uncorrected.merge(w->connect_uncorrected);
    late.merge(w->late);
    out.connected += w->connected;
    out.joined += w->joined;
    out.failed += w->failed;
    out.sent += w->sent;
    out.received += w->received;
    out.duplicated += w->duplicated;
    out.misrouted += w->misrouted;
    out.lost += w->in_flight.size();
    for (const auto& [code, n] : w->errors) out.errors[code] += n;
    for (const auto& [why, n] : w->failures) out.failures[why] += n;
  }
  out.planned = shared.schedule.planned_peers() ? *shared.schedule.planned_peers() / plan.room_size * plan.room_size
                                                : shared.started.load();
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

}  // namespace sigkit::bench_engine
