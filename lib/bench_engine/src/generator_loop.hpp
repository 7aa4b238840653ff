// One generator thread: an epoll loop of its own with the simulated peers
// that live on it for their whole life, the rooms they fill and the
// bookkeeping of every relay they send, so that nothing on the hot path is
// shared with another thread.
//
// A peer is a small struct in the loop's table, not a coroutine frame or a
// Beast stream: a non-blocking socket (with an OpenSSL session on it for
// wss://), the RFC 6455 reader of sigkit::core, and bytes only while a frame
// is unfinished or the socket is full. Reads go into one buffer per loop,
// frames are masked and written by the core's frame writer, and every
// deadline sits in the loop's timer wheel. This is the server's design
// (docs/transport.md) on the client side.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sigkit/byte_buffer.hpp"
#include "shared_run.hpp"
#include "sigkit/bench/schedule.hpp"
#include "sigkit/metrics/histogram.hpp"
#include "sigkit/slot_table.hpp"
#include "sigkit/timer_wheel.hpp"
#include "sigkit/websocket/reader.hpp"

typedef struct ssl_st SSL;
struct epoll_event;

namespace sigkit::bench_engine {

using handle = std::uint64_t;  // (generation << 32) | slot; 0 is no peer

struct room_state {
  std::string name;
  std::vector<handle> members;  // in the order they started
  std::uint64_t expected = 0;   // relays the room must deliver to complete negotiation
  std::uint64_t received = 0;
  std::int64_t first_offer_ns = -1;
  std::uint32_t ended = 0;
  bool done = false;    // every expected relay arrived
  bool broken = false;  // a member failed: the room can never complete
};

struct peer : timer_wheel::entry {
  enum class phase : std::uint8_t {
    free,        // a slot with no peer
    connecting,  // TCP
    tls,         // wss://: the handshake
    upgrading,   // the HTTP upgrade is out; reading the 101
    opening,     // a WebSocket; waiting for the dialect's welcome
    joining,     // join sent
    in_room,     // joined: negotiating, then holding
    leaving,     // our close frame is out; waiting for the server's
  };

  int fd = -1;
  std::uint32_t slot = 0;
  std::uint32_t generation = 1;
  phase state = phase::free;
  bool welcomed = false, joined = false, negotiating = false, failed = false;
  bool dirty = false;            // frames queued this pass
  bool tls_wants_write = false;  // the TLS session must write before it reads on
  std::uint16_t known = 0;       // other members this peer knows are in the room
  std::uint16_t unnamed_older = 0;  // members there before it, when the dialect gives a count only
  std::uint8_t target = 0;          // which --url it connects to
  SSL* tls = nullptr;
  room_state* room = nullptr;
  std::uint64_t room_number = 0;
  std::uint64_t index = 0;  // in the plan
  std::int64_t intended_ns = 0, actual_ns = 0, join_sent_ns = 0;  // since the run's start
  websocket::reader reader{websocket::role::client, 1 << 20};
  byte_buffer input;   // unconsumed bytes: part of the 101 or of a frame
  byte_buffer output;  // bytes the socket has not taken yet
  std::string id;      // this peer's id in the dialect
  std::unique_ptr<std::string> accept;  // upgrading: the Sec-WebSocket-Accept expected
  std::vector<handle> older;            // members to offer to, until it has
};

class generator_loop {
 public:
  generator_loop(shared_run& run, unsigned index, unsigned threads);
  ~generator_loop();
  generator_loop(const generator_loop&) = delete;
  generator_loop& operator=(const generator_loop&) = delete;

  void run();      // the thread's body: returns when its share of the plan has ended
  void wake();     // from any thread: the closed model has free slots again
  int wake_fd() const noexcept { return wake_fd_; }

  // Results, merged once run() has returned.
  metrics::latency_histogram connect, connect_uncorrected, join, relay, relay_cross, negotiation;
  bench::late_start_tally late;
  std::uint64_t connected = 0, joined = 0, failed = 0, sent = 0, received = 0, duplicated = 0, misrouted = 0;
  std::map<std::string, std::uint64_t> errors;    // server errors by code
  std::map<std::string, std::uint64_t> failures;  // failed peers by reason
  std::uint64_t lost() const noexcept { return in_flight_.size(); }

  // For the progress line, refreshed a few times a second.
  std::mutex snapshot_mutex;
  metrics::latency_histogram join_snapshot;

 private:
  struct flight {
    handle receiver;  // 0: whichever other member hears it (a broadcast dialect)
    handle sender;
    bench::outbound_kind kind;
  };
  // Where a session failed: before its socket existed (out of descriptors,
  // say), connecting, in TLS/upgrade/welcome, or once it was open.
  enum class stage : std::uint8_t { local, tcp, handshake, session };

  // generator_loop.cpp: sockets, TLS, the upgrade, frames.
  void start_due(clock::time_point now);
  void start_peer(std::uint64_t index, std::uint64_t room_number, std::int64_t intended_ns, std::int64_t actual_ns);
  void on_socket(peer& p, std::uint32_t events);
  void on_connected(peer& p);
  void continue_tls(peer& p);
  void send_upgrade(peer& p);
  void read_from(peer& p);
  ssize_t receive(peer& p, char* buffer, std::size_t size);
  void feed(peer& p, std::span<char> fresh);
  std::size_t consume_frames(peer& p, std::span<char> bytes);
  void on_upgrade_response(peer& p);
  void send_frame(peer& p, websocket::opcode op, std::string_view payload);
  void flush(peer& p);
  void end_pass();
  void on_deadline(peer& p);
  void schedule(peer& p, std::int64_t at_ns);
  void close_peer(peer& p);
  void fail(peer& p, stage s, const std::string& why);
  peer& allocate();
  peer* find(handle h) noexcept;
  handle handle_of(const peer& p) const noexcept { return (std::uint64_t{p.generation} << 32) | p.slot; }
  template <class F>
  void guarded(peer& p, F&& f);
  bool alive(const peer& p, std::uint32_t generation) const noexcept {
    return p.generation == generation && p.state != peer::phase::free;
  }

  // session.cpp: what a peer says and does.
  void on_text(peer& p, std::string_view text);
  void on_welcome(peer& p, const std::string& id);
  void on_joined(peer& p, const bench::inbound& in);
  void maybe_negotiate(peer& p);
  void send_relay(peer& p, bench::outbound_kind kind, handle receiver, const std::string& to);
  void on_relayed(peer& p, const bench::inbound& in);
  void complete_room(room_state& r);
  void start_leaving(peer& p);
  void break_room(room_state& r, const peer& failed_member);
  void note_error(const std::string& code);
  std::int64_t now_ns() const noexcept { return now_ns_; }

  shared_run& run_;
  const unsigned index_;
  const unsigned threads_;
  const std::uint64_t room_size_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unique_ptr<char[]> read_buffer_;
  std::vector<epoll_event> events_;

  slot_table<peer> peers_;
  std::size_t live_ = 0;
  std::vector<handle> dirty_;

  std::unordered_map<std::uint64_t, room_state> rooms_;
  std::unordered_map<std::uint64_t, flight> in_flight_;
  std::uint64_t next_seq_ = 0;

  // What there is still to start.
  bool more_to_start_ = true;
  std::uint64_t cursor_room_ = 0;    // open model: this thread's next room, counted in the segment
  std::uint64_t cursor_member_ = 0;  // and the next member of it
  std::int64_t next_start_ns_ = 0;

  // Time: ticks of the wheel since the run's start.
  std::int64_t now_ns_ = 0;
  timer_wheel wheel_;
  bool stopping_ = false;
  std::int64_t stop_deadline_ns_ = 0;
  std::uint64_t mask_state_;
};

}  // namespace sigkit::bench_engine
