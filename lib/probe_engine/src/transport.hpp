// Private to sigprobe's engine: STUN transactions over UDP, TCP and TLS on
// Asio coroutines. The codec (sigkit/stun.hpp) builds and reads messages;
// this file only moves bytes, times them and retransmits.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sigkit/probe/probe.hpp"
#include "sigkit/probe/diagnosis.hpp"
#include "sigkit/result.hpp"
#include "sigkit/stun/message.hpp"
#include "sigkit/stun/framing.hpp"

namespace sigkit::probe_engine {

// The engine speaks the probe's vocabulary (targets, facts, reports) throughout.
using namespace sigkit::probe;


namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
template <class T>
using awaitable = asio::awaitable<T>;

inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// Less time than this for a transaction (three UDP transmissions and their
// waits) and silence does not yet show the server is unreachable.
inline constexpr std::chrono::milliseconds short_budget{2000};

// Runs `op` until `deadline`; nullopt if the deadline came first (the
// operation is then cancelled).
template <class T>
awaitable<std::optional<T>> before(clock::time_point deadline, awaitable<T> op) {
  using namespace asio::experimental::awaitable_operators;
  asio::steady_timer timer(co_await asio::this_coro::executor, deadline);
  auto first = co_await (std::move(op) || timer.async_wait(use_tuple));
  if (first.index() == 0) co_return std::move(std::get<0>(first));
  co_return std::nullopt;
}

double ms_between(clock::time_point from, clock::time_point to);
inline double ms_since(clock::time_point from) { return ms_between(from, clock::now()); }

stun::address to_stun(const asio::ip::address& ip, std::uint16_t port);
template <class Endpoint>
stun::address to_stun(const Endpoint& e) {
  return to_stun(e.address(), e.port());
}
asio::ip::address to_asio(const stun::address& a);

// The local address (port 0) the system would send from towards `to`: a
// connected UDP socket asks the routing table without sending anything.
std::optional<stun::address> source_address_towards(const asio::any_io_executor& ex, const stun::address& to);

// getaddrinfo() for A and AAAA records (no AI_ADDRCONFIG, so AAAA shows up
// on an IPv4-only host too), in the system's RFC 6724 order. It runs on a
// thread of its own that is abandoned at `deadline`: a resolver that hangs
// cannot hold the run past --timeout, as Asio's resolver (which joins its
// thread on shutdown) would.
awaitable<result<std::vector<stun::address>, failure>> lookup(const std::string& host, std::uint16_t port,
                                                              clock::time_point deadline);

// A system error as a failure kind and the system's words for it.
failure failure_from(const boost::system::error_code& ec);
failure make_failure(failure_kind kind, std::string reason);

// A frame the flow read that was not the response being waited for: a
// ChannelData frame, a Data indication, a request (hairpinning), ...
struct incoming {
  stun::frame_kind kind_ = stun::frame_kind::stun;
  std::vector<std::byte> bytes_;
  stun::address from_;
};

struct transaction_outcome {
  unsigned transmissions_ = 0;
  std::optional<failure> failure_;  // no response at all
  stun::message response_;
  std::vector<std::byte> bytes_;  // the response as received, for integrity checks
  stun::address from_;
  // The run's deadline left the transaction under short_budget, far less
  // than RFC 8489's 39.5 s: a timeout then means "slow or silent".
  bool cut_short_ = false;
  double rtt_ms_ = 0;  // from the last transmission (RFC 6298 §3 Karn: ambiguous after a retransmission)
  bool answered() const noexcept { return !failure_.has_value(); }
};

// What TLS verification found; the engine turns it into a check.
struct tls_outcome {
  std::optional<failure> failure_;
  certificate_problem problem_ = certificate_problem::none;
  tls_facts facts_;
};

struct tls_settings {
  std::string host_;  // what the certificate must name
  bool host_is_ip_ = false;
  bool insecure_ = false;
};

// The run's one TLS client context. Loading a CA store costs milliseconds
// (the system bundle some 20 ms) on the one I/O thread every probe shares,
// so it is built once and every TLS connection of the run uses it. What is
// per connection (SNI, the name to verify, the verify callback) is set on
// the connection's SSL object, never on this context.
class tls_client_context {
 public:
  explicit tls_client_context(std::string ca_file) : ca_file_(std::move(ca_file)) {}
  // Built on the first call; a failure (an unreadable CA file) is kept and
  // given to every caller, as each TLS check's own failure.
  result<asio::ssl::context*, failure> get();

 private:
  std::string ca_file_;
  std::unique_ptr<asio::ssl::context> context_;
  std::optional<failure> failure_;
};

// One path to a STUN server: a UDP socket, a TCP connection, or TLS over
// TCP. The engine uses one at a time per flow, so a response the flow is
// not waiting for (a ChannelData frame during a transaction) is queued for
// the next receive().
class stun_flow {
 public:
  enum class kind { udp, tcp, tls };

  // A UDP socket bound to `local` (port 0 for any). With `peer`, connected
  // to it, so ICMP errors come back as "connection refused".
  static result<std::unique_ptr<stun_flow>, failure> open_udp(const asio::any_io_executor& ex,
                                                              const stun::address& local,
                                                              const std::optional<stun::address>& peer);
  // A TCP connection to `remote`, or a failure by `deadline`.
  static awaitable<result<std::unique_ptr<stun_flow>, failure>> connect_tcp(const stun::address& remote,
                                                                           clock::time_point deadline);
  // Turns a connected TCP flow into TLS (RFC 8489 §6.2.3): SNI, chain and
  // name verification against the system store or the CA file, with the
  // run's shared context (which must outlive the flow).
  awaitable<tls_outcome> start_tls(const tls_settings& s, tls_client_context& context, clock::time_point deadline);

  // One STUN transaction. Over UDP the request is retransmitted per RFC
  // 8489 §6.2.1 (capped by `deadline`); over TCP/TLS it is sent once and
  // waited for up to Ti = 39.5 s (§6.2.2). `to` overrides the destination
  // of an unconnected UDP flow.
  awaitable<transaction_outcome> transact(const stun::message& request, const stun::serialize_options& options,
                                          clock::time_point deadline, std::optional<stun::address> to = {},
                                          const retransmission_policy& policy = {});
  // Sends bytes as they are (a ChannelData frame, a raw datagram).
  awaitable<std::optional<failure>> send(std::span<const std::byte> bytes, clock::time_point deadline,
                                         std::optional<stun::address> to = {});
  // The next frame that no transaction claimed, or a failure (timeout at
  // `deadline`).
  awaitable<result<incoming, failure>> receive(clock::time_point deadline);

  kind transport() const noexcept { return kind_; }
  bool is_stream() const noexcept { return kind_ != kind::udp; }
  stun::address local() const;
  std::optional<stun::address> remote() const { return remote_; }

  explicit stun_flow(const asio::any_io_executor& ex);
  ~stun_flow();
  stun_flow(const stun_flow&) = delete;
  stun_flow& operator=(const stun_flow&) = delete;

 private:
  awaitable<result<incoming, failure>> read_frame(clock::time_point deadline);
  awaitable<std::optional<failure>> read_more(clock::time_point deadline);

  kind kind_ = kind::udp;
  asio::ip::udp::socket udp_;
  asio::ip::tcp::socket tcp_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket>> tls_;
  std::optional<stun::address> remote_;
  bool connected_udp_ = false;
  stun::stream_reassembler reassembler_;
  std::deque<incoming> unclaimed_;
  std::vector<std::byte> read_buffer_;
};

}  // namespace sigkit::probe_engine
