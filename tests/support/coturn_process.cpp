#include "coturn_process.hpp"

#include "child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstring>
#include <string_view>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "sigkit/stun/message.hpp"
#include "sigkit/stun/credentials.hpp"

extern char** environ;

namespace sigkit::test {

namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

sockaddr_in loopback(const char* ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

sockaddr_in6 loopback_v6(std::uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_loopback;
  return a;
}

bool can_bind(int type, const char* ip, std::uint16_t port) {
  const int fd = socket(AF_INET, type, 0);
  if (fd < 0) return false;
  const auto a = loopback(ip, port);
  const bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// One Binding transaction over UDP, for readiness checks; "::1" or an IPv4 address.
bool answers_binding(const char* ip, std::uint16_t port) {
  const bool v6 = std::string_view(ip) == "::1";
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  const auto to4 = loopback(ip, port);
  const auto to6 = loopback_v6(port);
  const auto request = stun::serialize(stun::binding_request(stun::random_transaction_id()));
  if (v6) sendto(fd, request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to6), sizeof to6);
  else sendto(fd, request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to4), sizeof to4);
  pollfd p{fd, POLLIN, 0};
  bool ok = false;
  if (poll(&p, 1, 200) == 1) {
    std::byte buf[1500];
    const auto n = recv(fd, buf, sizeof buf, 0);
    ok = n > 0 && stun::parse(std::span<const std::byte>(buf, static_cast<std::size_t>(n))).ok();
  }
  close(fd);
  return ok;
}

bool accepts_tcp(const char* ip, std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const auto to = loopback(ip, port);
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  close(fd);
  return ok;
}

std::optional<int> wait_for(pid_t pid, clock::time_point deadline) {
  int status = 0;
  while (clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

}  // namespace

namespace {

// Made once per test process and removed when it exits.
struct certificate_files {
  std::string dir_ = make_temp_dir("sigprobe-cert");
  test_certificate files_{dir_ + "/cert.pem", dir_ + "/key.pem"};
  certificate_files() {
    const auto r = run_process({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", files_.key_path_, "-out",
                                files_.cert_path_, "-days", "30", "-subj", "/CN=sigprobe test", "-addext",
                                "subjectAltName=IP:127.0.0.1,DNS:localhost"});
    if (r.status != 0) throw std::runtime_error("openssl could not make a test certificate: " + r.err);
  }
  ~certificate_files() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
};

}  // namespace

const test_certificate& certificate() {
  static const certificate_files made;
  return made.files_;
}

std::uint16_t free_port_block(unsigned count) {
  std::mt19937 random(std::random_device{}());
  // 20000-32000: below Linux's ephemeral range (32768-60999).
  std::uniform_int_distribution<int> pick(20000 / 64, 32000 / 64 - 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const auto base = static_cast<std::uint16_t>(pick(random) * 64);
    bool free = true;
    for (unsigned i = 0; i < count && free; ++i)
      for (const char* ip : {"127.0.0.1", "127.0.0.2"})
        free = free && can_bind(SOCK_DGRAM, ip, static_cast<std::uint16_t>(base + i)) &&
               can_bind(SOCK_STREAM, ip, static_cast<std::uint16_t>(base + i));
    if (free) return base;
  }
  throw std::runtime_error("no free block of loopback ports");
}

coturn_process::coturn_process(coturn_config config) : config_(std::move(config)) {
  dir_ = make_temp_dir("sigprobe-coturn");
  port_ = free_port_block(64);
  const auto& cert = certificate();
  std::ofstream conf(dir_ + "/turnserver.conf");
  // RFC 5780 needs two addresses; coturn answers CHANGE-REQUEST from the
  // other listening-ip and alt-listening-port, and with one address sends
  // no OTHER-ADDRESS at all.
  conf << "listening-ip=127.0.0.1\n" << (config_.rfc5780_ ? "listening-ip=127.0.0.2\n" : "")
       << (config_.ipv6_ ? "listening-ip=::1\n" : "")
       << "listening-port=" << port_ << "\nalt-listening-port=" << alt_port() << "\n"
       << "tls-listening-port=" << tls_port() << "\nalt-tls-listening-port=" << tls_port() + 1 << "\n"
       << "relay-ip=127.0.0.1\nmin-port=" << relay_min_port() << "\nmax-port=" << relay_max_port() << "\n"
       << "realm=" << config_.realm_ << "\n";
  if (config_.auth_ == turn_auth::long_term)
    conf << "lt-cred-mech\nuser=" << config_.user_ << ":" << config_.password_ << "\n";
  else
    conf << "use-auth-secret\nstatic-auth-secret=" << config_.secret_ << "\n";
  if (config_.allow_loopback_peers_) conf << "allow-loopback-peers\n";
  conf << "cert=" << cert.cert_path_ << "\npkey=" << cert.key_path_ << "\n"
       << "no-dtls\nno-cli\nno-stdout-log\nsimple-log\n"
       << "log-file=" << dir_ << "/turn.log\npidfile=" << dir_ << "/turn.pid\nuserdb=" << dir_ << "/turndb\n";
  for (const auto& line : config_.extra_lines_) conf << line << "\n";
  conf.close();

  std::vector<std::string> argv{SIGKIT_TURNSERVER_PATH, "-c", dir_ + "/turnserver.conf"};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  auto cargs = c_args(argv);
  const int rc = posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);

  // Ready when both addresses (or the one) answer Binding and TCP and TLS accept.
  const auto deadline = clock::now() + std::chrono::seconds(15);
  while (clock::now() < deadline) {
    if (wait_for(pid_, clock::now())) {
      pid_ = -1;
      throw std::runtime_error("coturn exited at start:\n" + log());
    }
    const bool second_address =
        !config_.rfc5780_ || (answers_binding("127.0.0.2", port_) && answers_binding("127.0.0.2", alt_port()));
    if (answers_binding("127.0.0.1", port_) && second_address && accepts_tcp("127.0.0.1", port_) &&
        accepts_tcp("127.0.0.1", tls_port()) && (!config_.ipv6_ || answers_binding("::1", port_)))
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const auto text = log();
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  throw std::runtime_error("coturn did not become ready in 15 s:\n" + text);
}

coturn_process::~coturn_process() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    if (!wait_for(pid_, clock::now() + std::chrono::seconds(3))) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string coturn_process::log() const { return slurp(dir_ + "/turn.log") + slurp(dir_ + "/stdout"); }

process_result run_process(const std::vector<std::string>& argv_in, const std::string& stdin_text,
                           std::chrono::seconds limit) {
  auto argv = argv_in;
  char out_tmpl[] = "/tmp/sigprobe-out-XXXXXX";
  char err_tmpl[] = "/tmp/sigprobe-err-XXXXXX";
  const int out_fd = mkstemp(out_tmpl);
  const int err_fd = mkstemp(err_tmpl);
  int in[2];
  if (out_fd < 0 || err_fd < 0 || pipe(in) != 0) throw std::runtime_error("cannot set up a child's output");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  posix_spawn_file_actions_addclose(&actions, in[1]);
  auto cargs = c_args(argv);
  pid_t pid = -1;
  const auto started = clock::now();
  const int rc = posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out_fd);
  close(err_fd);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  // Small texts only: the pipe buffer holds them before the child reads.
  if (!stdin_text.empty() && write(in[1], stdin_text.data(), stdin_text.size()) < 0)
    throw std::runtime_error("cannot write the child's stdin");
  close(in[1]);

  process_result r;
  if (auto status = wait_for(pid, started + limit)) {
    r.status = *status;
  } else {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    r.status = -1;  // killed: the test will say so
  }
  r.seconds = std::chrono::duration<double>(clock::now() - started).count();
  r.out = slurp(out_tmpl);
  r.err = slurp(err_tmpl);
  std::remove(out_tmpl);
  std::remove(err_tmpl);
  return r;
}

std::string sigprobe_path() { return SIGKIT_SIGPROBE_PATH; }

process_result run_sigprobe(std::vector<std::string> args, const std::string& stdin_text) {
  args.insert(args.begin(), sigprobe_path());
  return run_process(args, stdin_text, std::chrono::seconds(40));
}

udp_stun_responder::udp_stun_responder(answer_fn answer) {
  fd_ = socket(AF_INET, SOCK_DGRAM, 0);
  auto a = loopback("127.0.0.1", 0);
  if (fd_ < 0 || bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
    throw std::runtime_error("cannot bind a UDP test server");
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this, answer = std::move(answer)] {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) != 1) continue;
      std::byte buf[1500];
      sockaddr_in from{};
      socklen_t from_len = sizeof from;
      const auto n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n <= 0) continue;
      auto request = stun::parse(std::span<const std::byte>(buf, static_cast<std::size_t>(n)));
      if (!request || request->class_ != stun::message_class::request) continue;
      std::array<std::uint8_t, 4> ip{};
      std::memcpy(ip.data(), &from.sin_addr, 4);
      const auto reply = answer(*request, stun::address::ipv4(ip, ntohs(from.sin_port)), stop_);
      if (!reply.empty() && !stop_)
        sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<const sockaddr*>(&from), from_len);
    }
  });
}

udp_stun_responder::~udp_stun_responder() {
  stop_ = true;
  thread_.join();
  close(fd_);
}

slow_stun_server::slow_stun_server(std::chrono::milliseconds delay)
    : responder_([delay](const stun::message& request, const stun::address& from, const std::atomic<bool>& stopping) {
        // Sleep in small steps so a long delay (a silent server) cannot hold up the destructor.
        const auto answer_at = clock::now() + delay;
        while (!stopping && clock::now() < answer_at) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return stun::serialize(stun::binding_success(request.transaction_id_, from));
      }) {}

scripted_turn_server::scripted_turn_server(const std::string& user, const std::string& signing_password)
    : responder_([this, key = stun::long_term_key(user, realm, signing_password).value()](
                     const stun::message& request, const stun::address& client, const std::atomic<bool>&) {
        const auto& tid = request.transaction_id_;
        const bool signed_request = request.has(stun::attribute_type::message_integrity);
        const std::string nonce = "nonce-" + std::to_string(nonce_generation_);
        stun::message reply;
        stun::serialize_options so;
        switch (request.method_) {
          case stun::method::binding: reply = stun::binding_success(tid, client); break;
          case stun::method::allocate:
            if (!signed_request) {
              reply = stun::error_response(stun::method::allocate, tid, 401);
              reply.add_string(stun::attribute_type::realm, realm).add_string(stun::attribute_type::nonce, nonce);
            } else if (nonce_generation_ == 1) {
              // RFC 8489 §9.2.5: a stale nonce is answered with 438 and a new one.
              ++nonce_generation_;
              reply = stun::error_response(stun::method::allocate, tid, 438);
              reply.add_string(stun::attribute_type::realm, realm)
                  .add_string(stun::attribute_type::nonce, "nonce-" + std::to_string(nonce_generation_));
            } else {
              reply = stun::message(stun::method::allocate, stun::message_class::success_response, tid);
              reply.add_address(stun::attribute_type::xor_relayed_address, stun::address::ipv4({127, 0, 0, 1}, 9))
                  .add_address(stun::attribute_type::xor_mapped_address, client)
                  .add_lifetime(600);
              so.integrity_key_ = key;
            }
            break;
          case stun::method::create_permission:
            reply = stun::error_response(stun::method::create_permission, tid, 403);
            break;
          case stun::method::refresh:
            reply = stun::message(stun::method::refresh, stun::message_class::success_response, tid);
            reply.add_lifetime(0);
            so.integrity_key_ = key;
            break;
          default: reply = stun::error_response(request.method_, tid, 400); break;
        }
        return stun::serialize(reply, so);
      }) {}

}  // namespace sigkit::test
