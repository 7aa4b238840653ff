// STUN transactions over UDP, TCP and TLS for sigprobe (RFC 8489 §6.2).
#include "transport.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <netdb.h>
#include <sys/socket.h>

#include <ctime>
#include <mutex>
#include <thread>

namespace sigkit::probe_engine {

double ms_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

stun::address to_stun(const asio::ip::address& ip, std::uint16_t port) {
  if (ip.is_v4()) return stun::address::ipv4(ip.to_v4().to_bytes(), port);
  const auto v6 = ip.to_v6();
  // An IPv4-mapped IPv6 address is the IPv4 address (RFC 4291 §2.5.5.2).
  if (v6.is_v4_mapped()) return stun::address::ipv4(asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes(), port);
  return stun::address::ipv6(v6.to_bytes(), port);
}

asio::ip::address to_asio(const stun::address& a) {
  if (a.family_ == stun::address_family::ipv4)
    return asio::ip::address_v4({a.octets_[0], a.octets_[1], a.octets_[2], a.octets_[3]});
  return asio::ip::address_v6(a.octets_);
}

failure make_failure(failure_kind kind, std::string reason) {
  failure f;
  f.kind_ = kind;
  f.reason_ = std::move(reason);
  return f;
}

failure failure_from(const boost::system::error_code& ec) {
  namespace e = asio::error;
  if (ec == e::connection_refused) return make_failure(failure_kind::refused, "connection refused");
  if (ec == e::timed_out) return make_failure(failure_kind::timeout, "timed out");
  if (ec == e::host_unreachable || ec == e::network_unreachable || ec == e::address_family_not_supported ||
      ec == boost::system::errc::address_not_available)
    return make_failure(failure_kind::unreachable, ec.message());
  if (ec == e::eof) return make_failure(failure_kind::connection_lost, "the server closed the connection");
  if (ec == e::connection_reset || ec == e::connection_aborted || ec == e::broken_pipe)
    return make_failure(failure_kind::connection_lost, ec.message());
  if (ec.category() == asio::error::get_ssl_category() || ec == asio::ssl::error::stream_truncated)
    return make_failure(failure_kind::tls_handshake, ec.message());
  return make_failure(failure_kind::connection_lost, ec.message());
}

namespace {

failure timeout_after(clock::time_point started, unsigned transmissions) {
  const auto ms = static_cast<long>(ms_since(started));
  std::string why = "no response";
  if (transmissions > 1) why += " to " + std::to_string(transmissions) + " transmissions";
  return make_failure(failure_kind::timeout, why + " in " + std::to_string(ms) + " ms");
}

bool is_response(const stun::message& m) {
  return m.class_ == stun::message_class::success_response || m.class_ == stun::message_class::error_response;
}

// RFC 7983 §7: the first byte sorts a datagram: 0-3 STUN, 64-79 TURN channel.
std::optional<stun::frame_kind> classify_datagram(std::span<const std::byte> b) {
  if (b.empty()) return std::nullopt;
  const auto top = std::to_integer<unsigned>(b[0]) >> 6;
  if (top == 0) return stun::frame_kind::stun;
  if (top == 1) return stun::frame_kind::channel_data;
  return std::nullopt;
}

}  // namespace

stun_flow::stun_flow(const asio::any_io_executor& ex) : udp_(ex), tcp_(ex), read_buffer_(65536) {}
stun_flow::~stun_flow() = default;

result<std::unique_ptr<stun_flow>, failure> stun_flow::open_udp(const asio::any_io_executor& ex,
                                                                const stun::address& local,
                                                                const std::optional<stun::address>& peer) {
  auto flow = std::make_unique<stun_flow>(ex);
  flow->kind_ = kind::udp;
  boost::system::error_code ec;
  const asio::ip::udp::endpoint bind_to(to_asio(local), local.port_);
  flow->udp_.open(bind_to.protocol(), ec);
  if (!ec) flow->udp_.bind(bind_to, ec);
  if (!ec && peer) {
    // A connected UDP socket hears ICMP port unreachable as ECONNREFUSED:
    // a closed port answers at once instead of after 39.5 s of silence.
    flow->udp_.connect(asio::ip::udp::endpoint(to_asio(*peer), peer->port_), ec);
    flow->connected_udp_ = true;
    flow->remote_ = peer;
  }
  if (ec) return failure_from(ec);
  return flow;
}

awaitable<result<std::unique_ptr<stun_flow>, failure>> stun_flow::connect_tcp(const stun::address& remote,
                                                                             clock::time_point deadline) {
  auto flow = std::make_unique<stun_flow>(co_await asio::this_coro::executor);
  flow->kind_ = kind::tcp;
  flow->remote_ = remote;
  const asio::ip::tcp::endpoint ep(to_asio(remote), remote.port_);
  auto done = co_await before(deadline, flow->tcp_.async_connect(ep, use_tuple));
  if (!done) co_return make_failure(failure_kind::timeout, "no answer to the TCP handshake");
  if (const auto [ec] = *done; ec) co_return failure_from(ec);
  // Small STUN messages should leave at once, not wait for Nagle.
  boost::system::error_code ignored;
  flow->tcp_.set_option(asio::ip::tcp::no_delay(true), ignored);
  co_return std::move(flow);
}

namespace {

// Shared between a lookup's coroutine and its thread.
struct lookup_state {
  std::mutex mutex_;
  bool abandoned_ = false;  // the coroutine stopped waiting; do not touch Asio
  bool done_ = false;
  int rc_ = 0;
  std::vector<stun::address> addresses_;
};

}  // namespace

awaitable<result<std::vector<stun::address>, failure>> lookup(const std::string& host, std::uint16_t port,
                                                              clock::time_point deadline) {
  const auto ex = co_await asio::this_coro::executor;
  auto wake = std::make_shared<asio::steady_timer>(ex, deadline);
  auto state = std::make_shared<lookup_state>();
  std::weak_ptr<asio::steady_timer> weak_wake = wake;
  std::thread([state, weak_wake, ex, host, port] {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* list = nullptr;
    const std::string service = std::to_string(port);
    const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &list);
    std::vector<stun::address> found;
    for (auto* ai = list; rc == 0 && ai != nullptr; ai = ai->ai_next) {
      stun::address a;
      if (ai->ai_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
        std::array<std::uint8_t, 4> o{};
        std::memcpy(o.data(), &sin->sin_addr, 4);
        a = stun::address::ipv4(o, port);
      } else if (ai->ai_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
        std::array<std::uint8_t, 16> o{};
        std::memcpy(o.data(), &sin6->sin6_addr, 16);
        a = stun::address::ipv6(o, port);
      } else {
        continue;
      }
      if (std::find(found.begin(), found.end(), a) == found.end()) found.push_back(a);
    }
    if (list != nullptr) freeaddrinfo(list);
    const std::lock_guard lock(state->mutex_);
    state->rc_ = rc;
    state->addresses_ = std::move(found);
    state->done_ = true;
    // While the coroutine waits, its io_context is running: posting is safe.
    if (!state->abandoned_)
      asio::post(ex, [weak_wake] {
        if (auto w = weak_wake.lock()) w->cancel();
      });
  }).detach();

  // The io_context runs on one thread and this coroutine does not suspend
  // between starting the thread and this wait, so the wake-up cannot be
  // posted (and run) before the wait is in place.
  co_await wake->async_wait(use_tuple);
  const std::lock_guard lock(state->mutex_);
  state->abandoned_ = true;
  if (!state->done_) co_return make_failure(failure_kind::timeout, "the DNS lookup did not finish");
  switch (state->rc_) {
    case 0: break;
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
      co_return make_failure(failure_kind::name_not_found, gai_strerror(state->rc_));
    default: co_return make_failure(failure_kind::dns_failure, gai_strerror(state->rc_));
  }
  if (state->addresses_.empty()) co_return make_failure(failure_kind::name_not_found, "no A or AAAA records");
  co_return std::move(state->addresses_);
}

std::optional<stun::address> source_address_towards(const asio::any_io_executor& ex, const stun::address& to) {
  stun::address any;
  any.family_ = to.family_;
  auto probe = stun_flow::open_udp(ex, any, to);
  if (!probe) return std::nullopt;
  auto local = probe.value()->local();
  local.port_ = 0;
  return local;
}

stun::address stun_flow::local() const {
  boost::system::error_code ec;
  if (kind_ == kind::udp) return to_stun(udp_.local_endpoint(ec));
  if (kind_ == kind::tls) return to_stun(tls_->next_layer().local_endpoint(ec));
  return to_stun(tcp_.local_endpoint(ec));
}

namespace {

certificate_problem problem_of(int x509_error) {
  switch (x509_error) {
    case X509_V_OK: return certificate_problem::none;
    case X509_V_ERR_CERT_HAS_EXPIRED: return certificate_problem::expired;
    case X509_V_ERR_CERT_NOT_YET_VALID: return certificate_problem::not_yet_valid;
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: return certificate_problem::self_signed;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return certificate_problem::unknown_issuer;
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: return certificate_problem::name_mismatch;
    default: return certificate_problem::other;
  }
}

std::string name_text(const X509_NAME* name) {
  char buf[512] = {};
  X509_NAME_oneline(name, buf, sizeof buf);
  return buf;
}

// Every verification error the chain showed, first one first: the first
// decides the hint, the rest are listed ("self-signed; hostname mismatch").
struct verify_log {
  std::vector<int> errors_;
};

// ": " and OpenSSL's words for the latest error on this thread's queue, or
// nothing; empties the queue so the next failure is not blamed on this one.
std::string openssl_error() {
  const unsigned long e = ERR_peek_last_error();
  ERR_clear_error();
  if (e == 0) return {};
  char buf[256] = {};
  ERR_error_string_n(e, buf, sizeof buf);
  return std::string(": ") + buf;
}

}  // namespace

result<asio::ssl::context*, failure> tls_client_context::get() {
  if (context_) return context_.get();
  if (failure_) return *failure_;
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3);
  boost::system::error_code ec;
  if (!ca_file_.empty()) ctx->load_verify_file(ca_file_, ec);
  else ctx->set_default_verify_paths(ec);
  if (ec) {
    ERR_clear_error();  // so no later failure is blamed on this one
    failure_ = make_failure(failure_kind::tls_setup,
                            (ca_file_.empty() ? std::string("cannot load the system's trusted certificates")
                                              : "cannot load trusted certificates from " + ca_file_) +
                                ": " + ec.message());
    return *failure_;
  }
  ctx->set_verify_mode(asio::ssl::verify_peer);
  context_ = std::move(ctx);
  return context_.get();
}

// GCC 12 takes Asio's coroutine-frame allocation in this function for a
// mismatched new/delete pair: a false positive (the frame is allocated and
// freed by awaitable_frame_base's own operators).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
awaitable<tls_outcome> stun_flow::start_tls(const tls_settings& s, tls_client_context& context,
                                            clock::time_point deadline) {
  tls_outcome out;
  out.facts_.sni_ = s.host_is_ip_ ? "" : s.host_;
  auto ctx = context.get();
  if (!ctx) {
    out.failure_ = ctx.error();
    co_return out;
  }

  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(tcp_), *ctx.value());
  kind_ = kind::tls;
  SSL* ssl = tls_->native_handle();
  // A name that cannot be set would leave the certificate's name unchecked
  // and "verified" meaning less than it says: fail the check instead.
  if (s.host_is_ip_) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s.host_.c_str()) != 1) {
      out.failure_ = make_failure(failure_kind::tls_setup, "OpenSSL cannot take '" + s.host_ +
                                                               "' as the IP address to verify" + openssl_error());
      co_return out;
    }
  } else {
    // RFC 6066 §3: SNI carries host names only. RFC 6125: the certificate
    // must name the host the URI names.
    if (SSL_set_tlsext_host_name(ssl, s.host_.c_str()) != 1) {
      out.failure_ = make_failure(failure_kind::tls_setup,
                                  "OpenSSL cannot send '" + s.host_ + "' as the SNI name" + openssl_error());
      co_return out;
    }
    if (SSL_set1_host(ssl, s.host_.c_str()) != 1) {
      out.failure_ = make_failure(failure_kind::tls_setup,
                                  "OpenSSL cannot take '" + s.host_ + "' as the name to verify" + openssl_error());
      co_return out;
    }
  }
  // Always let the handshake finish, so that a failed verification can be
  // reported with the certificate's details and --insecure can go on.
  auto log = std::make_shared<verify_log>();
  tls_->set_verify_callback([log](bool preverified, asio::ssl::verify_context& vc) {
    if (!preverified) log->errors_.push_back(X509_STORE_CTX_get_error(vc.native_handle()));
    return true;
  });

  auto done = co_await before(deadline, tls_->async_handshake(asio::ssl::stream_base::client, use_tuple));
  if (!done) {
    out.failure_ = make_failure(failure_kind::timeout, "the TLS handshake did not finish");
    co_return out;
  }
  if (const auto [hec] = *done; hec) {
    out.failure_ = failure_from(hec);
    if (out.failure_->kind_ == failure_kind::connection_lost)
      out.failure_->reason_ = "connection closed during the TLS handshake (" + out.failure_->reason_ + ")";
    co_return out;
  }

  auto& f = out.facts_;
  f.version_ = SSL_get_version(ssl);
  f.cipher_ = SSL_get_cipher_name(ssl);
  if (X509* cert = SSL_get1_peer_certificate(ssl)) {
    f.subject_ = name_text(X509_get_subject_name(cert));
    f.issuer_ = name_text(X509_get_issuer_name(cert));
    const ASN1_TIME* not_after = X509_get0_notAfter(cert);
    std::tm tm{};
    if (ASN1_TIME_to_tm(not_after, &tm) == 1) {
      char buf[32];
      std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
      f.not_after_ = buf;
    }
    int days = 0;
    int seconds = 0;
    if (ASN1_TIME_diff(&days, &seconds, nullptr, not_after) == 1) f.days_left_ = days;
    X509_free(cert);
  }
  for (const int e : log->errors_) {
    const std::string words = X509_verify_cert_error_string(e);
    if (f.verify_error_.find(words) != std::string::npos) continue;
    if (!f.verify_error_.empty()) f.verify_error_ += "; ";
    f.verify_error_ += words;
  }
  f.verified_ = log->errors_.empty();
  if (!f.verified_) {
    out.problem_ = problem_of(log->errors_.front());
    if (!s.insecure_) out.failure_ = make_failure(failure_kind::certificate, f.verify_error_);
  }
  co_return out;
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

awaitable<std::optional<failure>> stun_flow::send(std::span<const std::byte> bytes, clock::time_point deadline,
                                                  std::optional<stun::address> to) {
  const auto buf = asio::buffer(bytes.data(), bytes.size());
  std::optional<std::tuple<boost::system::error_code, std::size_t>> done;
  if (kind_ == kind::udp) {
    if (to || !connected_udp_) {
      const auto dest = to ? *to : *remote_;
      done = co_await before(deadline,
                             udp_.async_send_to(buf, asio::ip::udp::endpoint(to_asio(dest), dest.port_), use_tuple));
    } else {
      done = co_await before(deadline, udp_.async_send(buf, use_tuple));
    }
  } else if (kind_ == kind::tcp) {
    done = co_await before(deadline, asio::async_write(tcp_, buf, use_tuple));
  } else {
    done = co_await before(deadline, asio::async_write(*tls_, buf, use_tuple));
  }
  if (!done) co_return make_failure(failure_kind::timeout, "could not send in time");
  if (const auto ec = std::get<0>(*done); ec) co_return failure_from(ec);
  co_return std::nullopt;
}

awaitable<std::optional<failure>> stun_flow::read_more(clock::time_point deadline) {
  const auto buf = asio::buffer(read_buffer_);
  std::optional<std::tuple<boost::system::error_code, std::size_t>> done;
  if (kind_ == kind::tcp) done = co_await before(deadline, tcp_.async_read_some(buf, use_tuple));
  else done = co_await before(deadline, tls_->async_read_some(buf, use_tuple));
  if (!done) co_return make_failure(failure_kind::timeout, "no answer");
  const auto [ec, n] = *done;
  if (ec) co_return failure_from(ec);
  if (auto fed = reassembler_.feed(std::span(read_buffer_.data(), n)); !fed)
    co_return make_failure(failure_kind::wrong_protocol, std::string(stun::to_string(fed.error())));
  co_return std::nullopt;
}

awaitable<result<incoming, failure>> stun_flow::read_frame(clock::time_point deadline) {
  if (kind_ != kind::udp) {
    for (;;) {
      if (auto f = reassembler_.next()) co_return incoming{f->kind_, std::move(f->bytes_), *remote_};
      if (auto e = reassembler_.error()) co_return make_failure(failure_kind::wrong_protocol, std::string(stun::to_string(*e)));
      if (auto e = co_await read_more(deadline)) co_return *e;
    }
  }
  for (;;) {
    asio::ip::udp::endpoint from;
    auto done = co_await before(deadline, udp_.async_receive_from(asio::buffer(read_buffer_), from, use_tuple));
    if (!done) co_return make_failure(failure_kind::timeout, "no answer");
    const auto [ec, n] = *done;
    if (ec) co_return failure_from(ec);
    const std::span<const std::byte> datagram(read_buffer_.data(), n);
    // Anything neither STUN nor ChannelData (a stray DTLS or RTP packet)
    // is not ours to judge: skip it.
    if (const auto k = classify_datagram(datagram))
      co_return incoming{*k, std::vector<std::byte>(datagram.begin(), datagram.end()), to_stun(from)};
  }
}

awaitable<result<incoming, failure>> stun_flow::receive(clock::time_point deadline) {
  if (!unclaimed_.empty()) {
    auto f = std::move(unclaimed_.front());
    unclaimed_.pop_front();
    co_return f;
  }
  co_return co_await read_frame(deadline);
}

awaitable<transaction_outcome> stun_flow::transact(const stun::message& request,
                                                   const stun::serialize_options& options,
                                                   clock::time_point deadline, std::optional<stun::address> to,
                                                   const retransmission_policy& policy) {
  transaction_outcome out;
  const auto bytes = stun::serialize(request, options);
  const auto start = clock::now();
  if (start >= deadline) {
    out.failure_ = make_failure(failure_kind::no_time_left, "the deadline passed before the request was sent");
    co_return out;
  }
  const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - start);
  retransmission_schedule schedule;
  if (kind_ == kind::udp) {
    schedule = make_schedule(policy, budget);
  } else {
    // RFC 8489 §6.2.2: one send over a reliable transport, Ti = 39.5 s.
    constexpr std::chrono::milliseconds ti{39'500};
    schedule.send_at_ = {std::chrono::milliseconds(0)};
    schedule.give_up_at_ = std::min(budget, ti);
  }
  out.cut_short_ = budget < short_budget;

  std::size_t next_send = 0;
  auto last_send = start;
  for (;;) {
    if (next_send < schedule.send_at_.size() && clock::now() >= start + schedule.send_at_[next_send]) {
      last_send = clock::now();
      ++out.transmissions_;
      ++next_send;
      if (auto e = co_await send(bytes, deadline, to)) {
        out.failure_ = *e;
        co_return out;
      }
    }
    const auto wake = next_send < schedule.send_at_.size() ? start + schedule.send_at_[next_send]
                                                           : start + schedule.give_up_at_;
    auto got = co_await read_frame(wake);
    if (!got) {
      if (got.error().kind_ == failure_kind::timeout) {
        if (next_send < schedule.send_at_.size()) continue;  // time to retransmit
        out.failure_ = timeout_after(start, out.transmissions_);
        co_return out;
      }
      out.failure_ = got.error();
      co_return out;
    }
    auto& frame = got.value();
    if (frame.kind_ == stun::frame_kind::stun) {
      auto parsed = stun::parse(frame.bytes_);
      if (parsed && parsed->transaction_id_ == request.transaction_id_ && is_response(*parsed)) {
        out.rtt_ms_ = ms_since(last_send);
        out.response_ = std::move(parsed.value());
        out.bytes_ = std::move(frame.bytes_);
        out.from_ = frame.from_;
        co_return out;
      }
      // A late answer to an earlier, already settled transaction: drop it
      // (RFC 8489 §6.3.1 allows duplicates after retransmissions).
      if (parsed && is_response(*parsed)) continue;
    }
    unclaimed_.push_back(std::move(frame));
  }
}

}  // namespace sigkit::probe_engine
