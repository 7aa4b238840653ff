// A real coturn (Debian's /usr/bin/turnserver) for sigprobe's integration
// tests: generated config in a temp dir, free loopback ports on 127.0.0.1
// and 127.0.0.2 (RFC 5780 needs two addresses), TLS with a certificate made
// by openssl, long-term users or a TURN REST secret (use-auth-secret),
// started and stopped by the test. Plus the processes and
// servers around it: sigprobe itself, and a deliberately slow STUN server.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <sys/types.h>

#include "sigkit/stun/message.hpp"

namespace sigkit::test {

enum class turn_auth { long_term, rest_secret };

struct coturn_config {
  turn_auth auth_ = turn_auth::long_term;
  std::string realm_ = "sigkit.test";
  std::string user_ = "alice";
  std::string password_ = "wonderland";
  std::string secret_ = "rest-shared-secret";
  bool allow_loopback_peers_ = true;
  bool ipv6_ = false;  // also listen on ::1 (the relay stays on 127.0.0.1)
  // Listen on 127.0.0.1 and 127.0.0.2, which RFC 5780 needs; false: on
  // 127.0.0.1 alone, so the server sends no OTHER-ADDRESS.
  bool rfc5780_ = true;
  std::vector<std::string> extra_lines_;  // more turnserver.conf lines
};

// The certificate every coturn of this test process uses: self-signed,
// valid for IP 127.0.0.1 and DNS localhost (not 127.0.0.2), so the same
// file is a CA for --ca-file.
struct test_certificate {
  std::string cert_path_;
  std::string key_path_;
};
const test_certificate& certificate();

class coturn_process {
 public:
  explicit coturn_process(coturn_config config = {});
  ~coturn_process();
  coturn_process(const coturn_process&) = delete;
  coturn_process& operator=(const coturn_process&) = delete;

  std::uint16_t port() const { return port_; }             // UDP and TCP, on 127.0.0.1 (and 127.0.0.2)
  std::uint16_t alt_port() const { return port_ + 1; }     // RFC 5780 alternate port
  std::uint16_t tls_port() const { return port_ + 2; }
  std::uint16_t relay_min_port() const { return port_ + 10; }
  std::uint16_t relay_max_port() const { return port_ + 59; }
  const coturn_config& config() const { return config_; }
  std::string log() const;  // coturn's log file, for failure messages

  // "stun:127.0.0.1:PORT" and friends.
  std::string stun_uri() const { return "stun:127.0.0.1:" + std::to_string(port_); }
  std::string turn_uri() const { return "turn:127.0.0.1:" + std::to_string(port_); }
  std::string turn_tcp_uri() const { return turn_uri() + "?transport=tcp"; }
  std::string stuns_uri() const { return "stuns:127.0.0.1:" + std::to_string(tls_port()); }
  std::string turns_uri() const { return "turns:127.0.0.1:" + std::to_string(tls_port()); }
  // By the name the certificate also carries (and SNI is sent for).
  std::string turns_name_uri() const { return "turns:localhost:" + std::to_string(tls_port()); }
  std::string turn_v6_uri() const { return "turn:[::1]:" + std::to_string(port_); }

 private:
  coturn_config config_;
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// Ports [base, base + count) free for UDP and TCP on 127.0.0.1 and 127.0.0.2,
// below Linux's ephemeral range so client sockets cannot take them.
std::uint16_t free_port_block(unsigned count);

// A process run to completion (killed after `limit`), with what it printed
// and how long it took.
struct process_result {
  int status = -1;
  std::string out;
  std::string err;
  double seconds = 0;
};
process_result run_process(const std::vector<std::string>& argv, const std::string& stdin_text = {},
                           std::chrono::seconds limit = std::chrono::seconds(60));

std::string sigprobe_path();
process_result run_sigprobe(std::vector<std::string> args, const std::string& stdin_text = {});

// A UDP endpoint on 127.0.0.1 that parses each STUN request and sends back
// what `answer` returns (nothing when it returns an empty vector), on its
// own thread. `answer` gets the stop flag so a slow answer can give up.
class udp_stun_responder {
 public:
  using answer_fn = std::function<std::vector<std::byte>(const stun::message& request, const stun::address& from,
                                                         const std::atomic<bool>& stopping)>;
  explicit udp_stun_responder(answer_fn answer);
  ~udp_stun_responder();
  udp_stun_responder(const udp_stun_responder&) = delete;
  udp_stun_responder& operator=(const udp_stun_responder&) = delete;
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A STUN server that answers Binding requests over UDP after `delay`: a
// slow server whose time in a parallel probe is known in advance.
class slow_stun_server {
 public:
  explicit slow_stun_server(std::chrono::milliseconds delay);
  std::string uri() const { return "stun:127.0.0.1:" + std::to_string(responder_.port()); }

 private:
  udp_stun_responder responder_;
};

// A scripted TURN server over UDP for what coturn will not do on demand:
// it answers the first authenticated Allocate with 438 Stale Nonce, then
// allocates (a relayed address it does not really serve), refuses
// CreatePermission with 403 and accepts Refresh. It never checks the
// client's password (the probe's side is under test) and signs its
// responses with `signing_password`, which a test can make wrong.
class scripted_turn_server {
 public:
  scripted_turn_server(const std::string& user, const std::string& signing_password);
  std::string uri() const { return "turn:127.0.0.1:" + std::to_string(responder_.port()); }
  static constexpr const char* realm = "scripted.test";

 private:
  int nonce_generation_ = 1;  // touched only by the responder's thread
  udp_stun_responder responder_;
};

}  // namespace sigkit::test
