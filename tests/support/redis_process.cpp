#include "redis_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <boost/asio/write.hpp>

#include "child_process.hpp"
#include "sigkit/resp/reader.hpp"
#include "sigkit/resp/writer.hpp"

extern char** environ;

namespace sigkit::test {

namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;

// RFC 3986 §2.1: every byte but the unreserved ones as %XX.
std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex[b >> 4]);
      out.push_back(hex[b & 0xf]);
    }
  }
  return out;
}

// A blocking socket to 127.0.0.1:port with a deadline on every step.
class blocking_socket {
 public:
  explicit blocking_socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    const auto a = loopback(port);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
  }
  ~blocking_socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  blocking_socket(const blocking_socket&) = delete;
  blocking_socket& operator=(const blocking_socket&) = delete;

  void write(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error(std::string("send to redis-server: ") + std::strerror(errno));
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Appends what arrives before `deadline`; false on a timeout or EOF.
  bool read_some(std::string& into, clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) != 1) return false;
    char buf[16384];
    const auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    into.append(buf, static_cast<std::size_t>(n));
    return true;
  }

 private:
  int fd_ = -1;
};

// Sends the commands in one write and returns the raw bytes of the last
// reply (the others, such as AUTH's, are read and skipped).
std::string exchange(std::uint16_t port, const std::vector<std::vector<std::string>>& commands,
                     std::chrono::milliseconds limit) {
  blocking_socket socket(port);
  std::string out;
  for (const auto& c : commands) resp::append_command(out, std::span<const std::string>(c));
  socket.write(out);

  const auto deadline = clock::now() + limit;
  resp::reader reader;
  std::string got;
  std::size_t at = 0;
  std::size_t value_start = 0;
  std::size_t replies = 0;
  for (;;) {
    std::size_t consumed = 0;
    auto e = reader.next(std::span<const char>(got.data() + at, got.size() - at), consumed);
    at += consumed;
    if (e.what == resp::reader::event::kind::value) {
      if (++replies == commands.size()) return got.substr(value_start, at - value_start);
      value_start = at;
      continue;
    }
    if (e.what == resp::reader::event::kind::fail)
      throw std::runtime_error("redis-server sent what is not RESP2: " + std::string(e.why));
    if (!socket.read_some(got, deadline))
      throw std::runtime_error("redis-server did not answer " + commands.back().front() + " in time");
  }
}

}  // namespace

redis_process::redis_process(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  for (std::size_t i = 0; i + 1 < extra_args_.size(); ++i)
    if (extra_args_[i] == "--requirepass") password_ = extra_args_[i + 1];
  dir_ = make_temp_dir("sigkit-redis");
  std::string text;
  try {
    // The port is free when picked but may be taken before Redis binds it:
    // then Redis exits at once, and another port is tried.
    for (int attempt = 0; attempt < 5; ++attempt) {
      port_ = free_loopback_port();
      spawn();
      if (wait_ready()) return;
      if (log().find("Address already in use") == std::string::npos) break;
    }
    text = "redis-server did not start:\n" + log();
  } catch (const std::exception& e) {
    text = e.what();
  }
  stop(SIGKILL);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
  throw std::runtime_error(text);
}

redis_process::~redis_process() {
  stop(SIGKILL);  // a stopped (SIGSTOPped) process dies of SIGKILL too
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string redis_process::url() const {
  const std::string credentials = password_.empty() ? "" : ":" + percent_encode(password_) + "@";
  return "redis://" + credentials + "127.0.0.1:" + std::to_string(port_);
}

void redis_process::spawn() {
  std::vector<std::string> argv{SIGKIT_REDIS_SERVER_PATH, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                                "--port", std::to_string(port_), "--dir", dir_};
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, (dir_ + "/redis.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  auto cargs = c_args(argv);
  const int rc = posix_spawn(&pid_, cargs[0], &actions, nullptr, cargs.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
  paused_ = false;
}

bool redis_process::wait_ready() {
  const auto deadline = clock::now() + std::chrono::seconds(10);
  while (clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    try {
      if (cli({"PING"}) == "+PONG\r\n") return true;
    } catch (const std::runtime_error&) {
      // Not listening yet.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::string text = log();
  stop(SIGKILL);
  throw std::runtime_error("redis-server did not answer PING within 10 s:\n" + text);
}

void redis_process::stop(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  if (paused_ && signal != SIGKILL) kill(pid_, SIGCONT);  // or the signal waits for it
  const auto deadline = clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) != pid_) {
    if (clock::now() >= deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  pid_ = -1;
  paused_ = false;
}

void redis_process::restart() {
  if (pid_ > 0) throw std::logic_error("redis_process::restart: still running");
  spawn();
  if (!wait_ready()) throw std::runtime_error("redis-server did not restart on port " + std::to_string(port_) + ":\n" + log());
}

void redis_process::pause() {
  if (pid_ > 0 && kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void redis_process::resume() {
  if (pid_ > 0 && kill(pid_, SIGCONT) == 0) paused_ = false;
}

std::string redis_process::cli(std::vector<std::string> args) const {
  std::vector<std::vector<std::string>> commands;
  if (!password_.empty()) commands.push_back({"AUTH", password_});
  commands.push_back(std::move(args));
  return exchange(port_, commands, std::chrono::seconds(2));
}

std::string redis_process::log() const { return slurp(dir_ + "/redis.log"); }

// What one connection of a scripted_server holds: its own copy of its
// script, so that it may outlive the server.
std::vector<std::string> tls_port_arguments(std::uint16_t tls_port, const std::string& cert, const std::string& key,
                                            const std::string& clients_ca) {
  return {"--tls-port", std::to_string(tls_port), "--tls-cert-file", cert, "--tls-key-file", key,
          "--tls-ca-cert-file", clients_ca.empty() ? cert : clients_ca, "--tls-auth-clients",
          clients_ca.empty() ? "no" : "yes"};
}

struct scripted_server::peer {
  peer(boost::asio::ip::tcp::socket s, std::vector<std::string> replies)
      : socket(std::move(s)), script(std::move(replies)) {}
  boost::asio::ip::tcp::socket socket;
  std::vector<std::string> script;
  std::array<char, 4096> in{};
  std::size_t next = 0;
};

scripted_server::scripted_server(boost::asio::io_context& io, std::vector<std::vector<std::string>> scripts)
    : acceptor_(io, {boost::asio::ip::make_address("127.0.0.1"), 0}), scripts_(std::move(scripts)) {
  if (scripts_.empty() || scripts_.back().empty()) throw std::logic_error("scripted_server: an empty script");
  accept();
}

void scripted_server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
    if (ec) return;  // the server is gone
    const auto n = std::min(static_cast<std::size_t>(accepted_++), scripts_.size() - 1);
    serve(std::make_shared<peer>(std::move(s), scripts_[n]));
    accept();
  });
}

// Reads first, so that hanging up leaves no unread bytes (which would be a reset).
void scripted_server::serve(std::shared_ptr<peer> p) {
  p->socket.async_read_some(boost::asio::buffer(p->in), [p](boost::system::error_code ec, std::size_t) {
    if (ec) return;
    boost::asio::async_write(p->socket, boost::asio::buffer(p->script[p->next]),
                             [p](boost::system::error_code write_error, std::size_t) {
                               if (write_error) return;
                               if (++p->next < p->script.size()) return serve(p);
                               boost::system::error_code ignored;
                               p->socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
                             });
  });
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = clock::now() + limit;
  while (!done()) {
    const auto now = clock::now();
    if (now >= deadline) return false;
    io.restart();
    // Out of work, run_for returns at once: wait a little rather than spin.
    if (io.run_for(std::min<clock::duration>(std::chrono::milliseconds(5), deadline - now)) == 0 && io.stopped())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration) {
  io.restart();
  io.run_for(duration);
}

}  // namespace sigkit::test
