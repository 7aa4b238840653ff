// sigserve: the signaling server. Command-line wiring only; the server is
// sigkit::server::signaling_server.
//
// Exit codes: 0 clean shutdown (or --help/--version), 1 could not start
// (address in use, unreadable --static dir), 2 usage error.
#include <cstdio>
#include <iostream>
#include <string>
#include <thread>

#include "cli.hpp"
#include "sigkit/log.hpp"
#include "sigkit/server/server.hpp"

namespace sigkit::embedded {
extern const std::string_view demo_page;
}

namespace {

constexpr int exit_start_failure = 1;

// The URL a person should open: an "any" address is reached over loopback.
std::string browser_url(const std::string& listen, std::uint16_t port) {
  std::string host = listen;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  sigkit::server::options opts;
  std::string ping_interval = "25s", ping_timeout = "60s", handshake_timeout = "10s";
  std::string log_level = "info", log_format = "text", static_dir;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());

  CLI::App app{
      "sigserve: WebRTC signaling server (protocol v1) with a built-in demo page.\n"
      "Every option can also be set in a TOML/INI file (--config) or as an environment\n"
      "variable SIGSERVE_<OPTION> (e.g. SIGSERVE_PORT=9000).\n"
      "Exit codes: 0 clean shutdown, 1 could not start, 2 usage error.",
      "sigserve"};
  app.set_version_flag("--version", std::string("sigserve ") + SIGKIT_VERSION + " (protocol 1)");
  app.set_config("--config", "", "Read options from this TOML/INI file");
  app.option_defaults()->always_capture_default();

  app.add_option("--listen", opts.listen_address, "Address to listen on (:: and 0.0.0.0 for all)")
      ->envname("SIGSERVE_LISTEN");
  app.add_option("--port", opts.port, "TCP port; 0 picks a free port and prints it")
      ->envname("SIGSERVE_PORT");
  app.add_option("--room-capacity", opts.room_capacity, "Members per room; 0 = unlimited")
      ->envname("SIGSERVE_ROOM_CAPACITY");
  app.add_option("--max-message-bytes", opts.max_message_bytes,
                 "Largest accepted message; larger ones close the connection with 1009")
      ->envname("SIGSERVE_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(std::size_t{64}, std::size_t{64} << 20));
  app.add_option("--ping-interval", ping_interval, "WebSocket ping interval; 0 disables pings")
      ->envname("SIGSERVE_PING_INTERVAL")
      ->check(sigkit::cli::duration_text);
  app.add_option("--ping-timeout", ping_timeout, "Drop a connection silent for this long")
      ->envname("SIGSERVE_PING_TIMEOUT")
      ->check(sigkit::cli::duration_text);
  app.add_option("--handshake-timeout", handshake_timeout, "Limit for HTTP requests and WebSocket handshakes")
      ->envname("SIGSERVE_HANDSHAKE_TIMEOUT")
      ->check(sigkit::cli::duration_text);
  app.add_option("--max-connections", opts.max_connections, "Open WebSockets; beyond it upgrades get HTTP 503")
      ->envname("SIGSERVE_MAX_CONNECTIONS");
  app.add_option("--max-send-queue-bytes", opts.max_send_queue_bytes,
                 "Unsent bytes per connection before it is closed with 1008")
      ->envname("SIGSERVE_MAX_SEND_QUEUE_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 34));
  app.add_option("--rate-limit", opts.rate_limit, "Messages per second per connection; 0 = unlimited")
      ->envname("SIGSERVE_RATE_LIMIT")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--rate-burst", opts.rate_burst, "Messages a connection may send at once")
      ->envname("SIGSERVE_RATE_BURST")
      ->check(CLI::PositiveNumber);
  app.add_option("--allowed-origin", opts.allowed_origins,
                 "Browser origin allowed to connect (repeatable; * allows all). Default: loopback and "
                 "same-host origins, and clients that send no Origin")
      ->envname("SIGSERVE_ALLOWED_ORIGIN")
      ->delimiter(',');
  app.add_option("--static", static_dir, "Serve this directory instead of the built-in demo page")
      ->envname("SIGSERVE_STATIC")
      ->check(CLI::ExistingDirectory);
  app.add_option("--threads", threads, "Worker threads (default: number of cores)")
      ->envname("SIGSERVE_THREADS")
      ->check(CLI::Range(1u, 1024u));
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->envname("SIGSERVE_LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", log_format, "text or json (one JSON object per line)")
      ->envname("SIGSERVE_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}));

  if (auto stop = sigkit::cli::parse(app, argc, argv)) return *stop;

  opts.ping_interval = sigkit::cli::duration_of<std::chrono::milliseconds>(ping_interval);
  opts.ping_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(ping_timeout);
  opts.handshake_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(handshake_timeout);
  if (opts.ping_interval.count() > 0 && opts.ping_timeout <= opts.ping_interval) {
    std::fprintf(stderr, "sigserve: --ping-timeout (%s) must be longer than --ping-interval (%s)\n",
                 ping_timeout.c_str(), ping_interval.c_str());
    return sigkit::cli::exit_usage;
  }
  if (!static_dir.empty()) opts.static_dir = static_dir;
  opts.demo_page = std::string(sigkit::embedded::demo_page);
  opts.server_name = std::string("sigserve/") + SIGKIT_VERSION;

  sigkit::logger log(*sigkit::parse_log_level(log_level),
                     log_format == "json" ? sigkit::log_format::json : sigkit::log_format::text);
  try {
    sigkit::server::signaling_server server(opts, log);
    auto url = browser_url(opts.listen_address, server.port());
    std::printf("sigserve listening on %s/ (open %s/<room> in two browser tabs)\n", url.c_str(), url.c_str());
    std::fflush(stdout);
    log.info("start", {{"url", url}, {"threads", std::to_string(threads)}});
    server.run(threads, /*handle_signals=*/true);
    log.info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigserve: %s\n", e.what());
    return exit_start_failure;
  }
  return 0;
}
