// A real redis-server (Debian's) for sigkit::redis's tests, on a free
// loopback port, with nothing persisted: started by the test, and stopped,
// restarted on the same port, or frozen (SIGSTOP) when the test wants a
// Redis that goes away or stops answering. Plus `cli`, one command over a
// socket of its own, for what the test checks behind the client's back; a
// scripted server for what a real Redis never sends; and the loop helpers
// the tests of sigkit::redis share.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace sigkit::test {

class redis_process {
 public:
  // `redis-server --save "" --appendonly no --bind 127.0.0.1 --port P --dir
  // <temp dir> <extra_args>`, ready once it answers PING. Throws, with
  // Redis' log, if it cannot be started.
  explicit redis_process(std::vector<std::string> extra_args = {});
  ~redis_process();
  redis_process(const redis_process&) = delete;
  redis_process& operator=(const redis_process&) = delete;

  std::uint16_t port() const { return port_; }
  // redis://[:PASSWORD@]127.0.0.1:P, the password (from --requirepass)
  // percent-encoded.
  std::string url() const;
  bool running() const { return pid_ > 0; }

  // Sends `signal` and waits for the process to exit (SIGKILL after 5 s).
  // SIGKILL: the kernel closes its sockets; SIGTERM: Redis shuts down itself.
  void stop(int signal = SIGKILL);
  // Starts it again with the same arguments on the same port (after stop()).
  void restart();
  // SIGSTOP and SIGCONT: a Redis whose sockets stay open (the kernel still
  // accepts connections for it) but that answers nothing meanwhile.
  void pause();
  void resume();

  // One command (after AUTH, with --requirepass) on a new connection; the
  // raw reply, e.g. "+OK\r\n" or "$1\r\n1\r\n". Blocks; throws if Redis does
  // not answer within 2 s.
  std::string cli(std::vector<std::string> args) const;
  std::string log() const;  // Redis' own log, for failure messages

 private:
  void spawn();
  bool wait_ready();  // false: it exited (the port was taken, or a bad argument)

  std::vector<std::string> extra_args_;
  std::string password_;  // from --requirepass
  std::string dir_;
  pid_t pid_ = -1;
  bool paused_ = false;
  std::uint16_t port_ = 0;
};

// redis-server's arguments for a TLS port of its own beside the plain one
// (which stays for the test's own commands), with `cert` and `key` as its
// certificate; with `clients_ca`, clients must show a certificate that
// chains to it.
std::vector<std::string> tls_port_arguments(std::uint16_t tls_port, const std::string& cert, const std::string& key,
                                            const std::string& clients_ca = "");

// A TCP listener on the test's loop that is not Redis, or is Redis only for
// a while: it answers each read of a client with the next reply of its
// script, and hangs up after the last. Connection n gets scripts[n], the
// last one once they run out.
class scripted_server {
 public:
  scripted_server(boost::asio::io_context& io, std::vector<std::vector<std::string>> scripts);
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port()); }
  int accepted() const { return accepted_; }

 private:
  struct peer;
  void accept();
  static void serve(std::shared_ptr<peer> p);

  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::vector<std::string>> scripts_;
  int accepted_ = 0;
};

// Runs `io` until `done()` holds, checking it every few milliseconds, for at
// most `limit`: true if it came to hold. The io_context is restarted first,
// so it may be called again after it ran out of work.
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds limit);
// Runs `io` for `duration`, for a test that something does not happen.
void run_for(boost::asio::io_context& io, std::chrono::milliseconds duration);

}  // namespace sigkit::test
