// Debian's nginx as a test's load balancer: the shipped
// deploy/nginx/sigserve.conf, adapted to a free loopback port and the test's
// sigserve instances, run in the foreground by the test and stopped by it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace sigkit::test {

// The text of deploy/nginx/sigserve.conf in this source tree.
std::string shipped_nginx_site();

// `site` (an http-context config such as the shipped one) with its first
// uncommented `listen` line made `listen 127.0.0.1:<listen_port>;`, its other
// uncommented `listen` lines dropped, and the `server` lines of its upstream
// block replaced with one line per port in `upstream_ports`, each with the
// parameters of the first (max_fails=...). Pure. Throws std::runtime_error
// when `site` has no such lines, so that a change to the shipped file that
// the test can no longer follow fails loudly instead of testing something else.
std::string adapt_nginx_site(std::string_view site, std::uint16_t listen_port,
                             const std::vector<std::uint16_t>& upstream_ports);

class nginx_process {
 public:
  // Writes an nginx.conf into a temp dir (pid, lock, logs and temp paths all
  // inside it, so no root paths are touched) that includes `site` adapted by
  // adapt_nginx_site, and runs `nginx -p DIR -c DIR/nginx.conf -e
  // DIR/error.log` in the foreground as one process (daemon off;
  // master_process off), which the kernel kills if the test dies first.
  // Ready once it accepts a TCP connection. Throws, with nginx's error log,
  // if it does not start.
  explicit nginx_process(const std::vector<std::uint16_t>& upstream_ports, std::string site = shipped_nginx_site());
  ~nginx_process();
  nginx_process(const nginx_process&) = delete;
  nginx_process& operator=(const nginx_process&) = delete;

  std::uint16_t port() const { return port_; }
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(port_) + "/ws"; }

  // SIGQUIT (nginx's graceful stop), then SIGKILL if it has not exited
  // within 5 s.
  void stop();
  std::string error_log() const;
  // One line per request: client, request, status, and the instance(s)
  // nginx tried (upstream=127.0.0.1:P, ... for a retry).
  std::string access_log() const;

 private:
  void spawn();
  bool wait_ready();  // false: it exited, or another process holds the port

  std::string site_;
  std::vector<std::uint16_t> upstream_ports_;
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

}  // namespace sigkit::test
