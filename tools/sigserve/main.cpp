// sigserve: the signaling server. Command-line wiring only; the server is
// sigkit::server::signaling_server.
//
// Options come from flags, then SIGSERVE_<OPTION> variables, then --config
// FILE (tools/layered_config.hpp), each filling only what the one before
// left unset.
//
// Exit codes: 0 clean shutdown (or --help/--version), 1 could not start
// (address in use, unresolvable --listen name), 2 usage error (one line on
// stderr, naming the flag, the variable, or the file and key at fault).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "cli.hpp"
#include "layered_config.hpp"
#include "open_files.hpp"
#include "sigkit/http/client_address.hpp"
#include "sigkit/log.hpp"
#include "sigkit/stun/uri.hpp"
#include "sigkit/server/options.hpp"
#include "sigkit/server/server.hpp"

namespace sigkit::embedded {
extern const std::string_view demo_page;
}

namespace {

using namespace std::chrono_literals;
using sigkit::cli::duration_in;
using sigkit::cli::duration_name;
using sigkit::cli::whole_number;

constexpr int exit_start_failure = 1;

// The URL a person should open: an "any" address is reached over loopback.
std::string browser_url(const std::string& listen, std::uint16_t port, bool tls) {
  std::string host = listen;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return (tls ? "https://" : "http://") + host + ":" + std::to_string(port);
}

// A --stun-uri or --turn-uri: an RFC 7064/7065 URI of the right kind.
CLI::Validator ice_uri(bool turn) {
  return CLI::Validator(
      [turn](std::string& text) -> std::string {
        auto uri = sigkit::stun::parse_uri(text);
        if (!uri) return uri.error();
        if (uri->is_turn() != turn) return std::string("expected a ") + (turn ? "turn: or turns:" : "stun: or stuns:") + " URI";
        return {};
      },
      "URI");
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  sigkit::server::options opts;
  opts.threads = 0;  // the number of cores, worked out after parsing (so --help reads the same everywhere)
  // Durations are read as text ("25s") and converted after parsing; their
  // defaults are the options struct's, spelt the way a flag takes them.
  std::string ping_interval = duration_name(opts.ping_interval), ping_timeout = duration_name(opts.ping_timeout),
              handshake_timeout = duration_name(opts.handshake_timeout),
              write_timeout = duration_name(opts.write_timeout), drain_delay = duration_name(opts.drain_delay),
              room_history_ttl = duration_name(opts.room_history_ttl),
              drain_timeout = duration_name(opts.drain_timeout), turn_ttl = duration_name(opts.ice.turn_ttl),
              auth_leeway = duration_name(opts.auth_leeway), auth_secret_file, turn_secret_file;
  std::string log_level = "info", log_format = "text", static_dir;

  CLI::App app{
      "sigserve: WebRTC signaling server (protocol v1) with a built-in demo page.\n"
      "Every option can also be set as an environment variable SIGSERVE_<OPTION>\n"
      "(SIGSERVE_PORT=9000) or in a TOML/INI file given with --config (port = 9000).\n"
      "A flag beats the environment, which beats the file; an unknown key in the file\n"
      "is an error.\n"
      "Exit codes: 0 clean shutdown, 1 could not start, 2 usage error.",
      "sigserve"};
  sigkit::cli::layered_config layers(app, "SIGSERVE_");
  app.set_version_flag("--version", std::string("sigserve ") + SIGKIT_VERSION + " (protocol 1)");
  layers.add_config_option("--config", "Read options from this TOML/INI file");
  app.option_defaults()->always_capture_default();

  // --- where -------------------------------------------------------------------
  app.add_option("--listen", opts.listen_address,
                 "Address or host name to listen on (:: and 0.0.0.0 for all; a name listens on every "
                 "address it resolves to)")
      ->check(sigkit::cli::non_empty);
  app.add_option("--port", opts.port, "TCP port; 0 picks a free port and prints it")->check(whole_number(0, 65535));
  app.add_option("--threads", opts.threads, "Worker threads, one event loop each; 0 = one per core")
      ->check(whole_number(0, 1024));

  // --- several instances -----------------------------------------------------------
  app.add_option("--redis", opts.redis_url,
                 "redis[s]://[[user]:password@]host[:port][/db]: share rooms with every sigserve on this Redis "
                 "(rediss: over TLS)")
      ->check(sigkit::cli::non_empty);
  app.add_option("--redis-ca-file", opts.redis_ca_file,
                 "With rediss://: PEM CA certificates Redis' certificate must chain to (default: the system's)")
      ->check(CLI::ExistingFile);
  auto* redis_cert_opt = app.add_option("--redis-cert", opts.redis_cert,
                                        "With rediss://: PEM certificate chain for a Redis that asks clients for one "
                                        "(tls-auth-clients)")
                             ->check(CLI::ExistingFile);
  auto* redis_key_opt =
      app.add_option("--redis-key", opts.redis_key, "PEM private key for --redis-cert")->check(CLI::ExistingFile);

  // --- the protocol --------------------------------------------------------------
  app.add_option("--room-capacity", opts.room_capacity, "Members per room; 0 = unlimited")
      ->check(whole_number(0, 1'000'000));
  app.add_option("--room-history", opts.room_history,
                 "Broadcast messages a room keeps and gives every joiner (in joined.history); 0 = none")
      ->check(whole_number(0, 1'000));
  app.add_option("--room-history-ttl", room_history_ttl,
                 "With --redis: how long a room's history outlives its last member")
      ->check(duration_in(1s, 24h * 7));
  app.add_option("--max-message-bytes", opts.max_message_bytes,
                 "Largest accepted message; larger ones close the connection with 1009")
      ->check(whole_number(64, std::uint64_t{64} << 20));
  auto* ping_interval_opt = app.add_option("--ping-interval", ping_interval, "WebSocket ping interval; 0 disables pings")
                                ->check(duration_in(0s, 1h));
  auto* ping_timeout_opt = app.add_option("--ping-timeout", ping_timeout, "Drop a connection silent for this long")
                               ->check(duration_in(1ms, 24h));
  app.add_option("--rate-limit", opts.rate_limit, "Messages per second per connection; 0 = unlimited")
      ->check(sigkit::cli::real_number(0, 1'000'000));
  app.add_option("--rate-burst", opts.rate_burst, "Messages a connection may send at once")
      ->check(sigkit::cli::real_number(1, 1'000'000));

  // --- what a connection may hold --------------------------------------------------
  app.add_option("--handshake-timeout", handshake_timeout,
                 "Limit for an HTTP request, the WebSocket upgrade and the close handshake")
      ->check(duration_in(1ms, 1h));
  app.add_option("--write-timeout", write_timeout,
                 "A connection whose unsent data has not moved for this long is closed with 1008")
      ->check(duration_in(1ms, 1h));
  app.add_option("--max-connections", opts.max_connections, "Open WebSockets; beyond it upgrades get HTTP 503")
      ->check(whole_number(1, 10'000'000));
  app.add_option("--max-http-connections", opts.max_http_connections,
                 "Connections not (yet) upgraded; beyond it the oldest is dropped")
      ->check(whole_number(1, 1'000'000));
  auto* send_queue_opt = app.add_option("--max-send-queue-bytes", opts.max_send_queue_bytes,
                                        "Unsent bytes per connection before it is closed with 1008")
                             ->check(whole_number(1024, std::uint64_t{1} << 34));
  auto* queued_opt = app.add_option("--max-queued-bytes", opts.max_queued_bytes,
                                    "Unsent bytes of all connections together (bounds the server's memory)")
                         ->check(whole_number(1024, std::uint64_t{1} << 40));

  // --- who may connect ---------------------------------------------------------------
  app.add_option("--allowed-origin", opts.allowed_origins,
                 "Browser origin allowed to connect (repeatable, or comma-separated; * allows all). Default: "
                 "loopback and same-host origins, and clients that send no Origin")
      ->delimiter(',');

  // --- TLS ------------------------------------------------------------------------------
  auto* tls_cert_opt = app.add_option("--tls-cert", opts.tls_cert,
                                      "PEM certificate chain: with --tls-key the listener speaks HTTPS and wss:// only; "
                                      "SIGHUP reloads both")
                           ->check(CLI::ExistingFile);
  auto* tls_key_opt = app.add_option("--tls-key", opts.tls_key, "PEM private key for --tls-cert")->check(CLI::ExistingFile);

  // --- tokens (JWT): with any key, every upgrade needs a valid token ---------------------
  app.add_option("--auth-hs256-secret", opts.auth_hs256_secret,
                 "HS256 secret (32 bytes at least); prefer --auth-hs256-secret-file, as the command line is visible to "
                 "other users");
  app.add_option("--auth-hs256-secret-file", auth_secret_file, "File holding the HS256 secret (a trailing newline is dropped)")
      ->check(CLI::ExistingFile);
  app.add_option("--auth-public-key", opts.auth_public_key_file, "PEM public key: RS256 (RSA) or ES256 (P-256)")
      ->check(CLI::ExistingFile);
  app.add_option("--auth-jwks", opts.auth_jwks_file, "JWK Set file; keys are chosen by the token's kid")
      ->check(CLI::ExistingFile);
  app.add_option("--auth-issuer", opts.auth_issuer, "When set, a token's iss must be this");
  app.add_option("--auth-audience", opts.auth_audience, "When set, a token's aud must name this");
  app.add_option("--auth-leeway", auth_leeway, "Clock skew allowed when checking exp, nbf and iat")
      ->check(duration_in(0s, 1h));

  // --- STUN and TURN for every client ---------------------------------------------------
  app.add_option("--stun-uri", opts.ice.stun_uris, "STUN server for welcome.ice_servers (repeatable), e.g. stun:stun.example.org")
      ->check(ice_uri(false));
  auto* turn_uri_opt = app.add_option("--turn-uri", opts.ice.turn_uris,
                 "TURN server for welcome.ice_servers (repeatable), e.g. turns:turn.example.org; needs --turn-secret")
      ->check(ice_uri(true));
  auto* turn_secret_opt =
      app.add_option("--turn-secret", opts.ice.turn_secret,
                     "coturn's static-auth-secret: every welcome carries TURN credentials minted from it");
  app.add_option("--turn-secret-file", turn_secret_file, "File holding --turn-secret (a trailing newline is dropped)")
      ->check(CLI::ExistingFile);
  app.add_option("--turn-ttl", turn_ttl, "How long minted TURN credentials stay valid")
      ->check(duration_in(1s, 24h * 7));

  // --- limits by client address (off by default: behind a load balancer every client
  //     comes from a few addresses) ----------------------------------------------------
  app.add_option("--max-connections-per-ip", opts.max_connections_per_ip,
                 "WebSockets one client address may hold; beyond it upgrades get HTTP 429; 0 = off")
      ->check(whole_number(0, 10'000'000));
  app.add_option("--connection-rate-per-ip", opts.connection_rate_per_ip,
                 "New WebSockets per second one client address may open; beyond it HTTP 429; 0 = off")
      ->check(sigkit::cli::real_number(0, 1'000'000));
  app.add_option("--connection-burst-per-ip", opts.connection_burst_per_ip,
                 "New WebSockets one client address may open at once")
      ->check(sigkit::cli::real_number(1, 1'000'000));
  app.add_option("--trust-proxy", opts.trusted_proxies,
                 "CIDR block of a proxy whose X-Forwarded-For names the client (repeatable), e.g. 10.0.0.0/8")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto block = sigkit::http::cidr::parse(text);
            return block ? std::string() : block.error();
          },
          "CIDR"));
  app.add_option("--join-rate", opts.join_rate, "Joins per second per connection; beyond it rate-limited")
      ->check(sigkit::cli::real_number(0.1, 1'000'000));
  app.add_option("--join-burst", opts.join_burst, "Joins a connection may send at once")
      ->check(sigkit::cli::real_number(1, 1'000'000));

  // --- HTTP ---------------------------------------------------------------------------
  app.add_option("--static", static_dir, "Serve this directory instead of the built-in demo page")
      ->check(CLI::ExistingDirectory);
  app.add_option("--static-max-bytes", opts.static_max_bytes, "Larger files under --static are not served (413)")
      ->check(whole_number(1, std::uint64_t{1} << 40));

  // --- stopping --------------------------------------------------------------------------
  app.add_option("--drain-delay", drain_delay,
                 "After SIGTERM, /readyz answers 503 while serving goes on this long (for load balancers)")
      ->check(duration_in(0s, 1h));
  app.add_option("--drain-timeout", drain_timeout,
                 "After the drain delay, every WebSocket is closed with 1001 and given this long to finish")
      ->check(duration_in(0s, 1h));

  // --- logs -------------------------------------------------------------------------------
  app.add_option("--log-level", log_level, "debug, info, warn, error or off")
      ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}));
  app.add_option("--log-format", log_format, "text or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}));

  if (auto stop = sigkit::cli::parse(layers, argc, argv)) return *stop;

  opts.ping_interval = sigkit::cli::duration_of<std::chrono::milliseconds>(ping_interval);
  opts.ping_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(ping_timeout);
  opts.handshake_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(handshake_timeout);
  opts.write_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(write_timeout);
  opts.drain_delay = sigkit::cli::duration_of<std::chrono::milliseconds>(drain_delay);
  opts.room_history_ttl = sigkit::cli::duration_of<std::chrono::milliseconds>(room_history_ttl);
  opts.drain_timeout = sigkit::cli::duration_of<std::chrono::milliseconds>(drain_timeout);
  opts.ice.turn_ttl = sigkit::cli::duration_of<std::chrono::seconds>(turn_ttl);
  opts.auth_leeway = sigkit::cli::duration_of<std::chrono::seconds>(auth_leeway);
  if (opts.threads == 0) opts.threads = std::max(1u, std::thread::hardware_concurrency());
  // Secrets from files (systemd's LoadCredential=, a mounted secret): the
  // command line is visible to every user of the machine.
  auto read_secret = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string secret((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    return secret;
  };
  if (!auth_secret_file.empty()) opts.auth_hs256_secret = read_secret(auth_secret_file);
  if (!turn_secret_file.empty()) opts.ice.turn_secret = read_secret(turn_secret_file);
  if (opts.tls_cert.empty() != opts.tls_key.empty()) {
    std::fprintf(stderr, "sigserve: %s and %s go together\n", layers.setting_name(tls_cert_opt).c_str(),
                 layers.setting_name(tls_key_opt).c_str());
    return sigkit::cli::exit_usage;
  }
  if (opts.redis_cert.empty() != opts.redis_key.empty()) {
    std::fprintf(stderr, "sigserve: %s and %s go together\n", layers.setting_name(redis_cert_opt).c_str(),
                 layers.setting_name(redis_key_opt).c_str());
    return sigkit::cli::exit_usage;
  }
  if (!opts.ice.turn_uris.empty() && opts.ice.turn_secret.empty()) {
    std::fprintf(stderr, "sigserve: %s needs %s (coturn's static-auth-secret) to mint credentials\n",
                 layers.setting_name(turn_uri_opt).c_str(), layers.setting_name(turn_secret_opt).c_str());
    return sigkit::cli::exit_usage;
  }
  if (opts.ping_interval.count() > 0 && opts.ping_timeout <= opts.ping_interval) {
    std::fprintf(stderr, "sigserve: %s (%s) must be longer than %s (%s)\n",
                 layers.setting_name(ping_timeout_opt).c_str(), ping_timeout.c_str(),
                 layers.setting_name(ping_interval_opt).c_str(), ping_interval.c_str());
    return sigkit::cli::exit_usage;
  }
  if (opts.max_queued_bytes < opts.max_send_queue_bytes) {
    std::fprintf(stderr, "sigserve: %s (%zu) must be at least %s (%zu)\n", layers.setting_name(queued_opt).c_str(),
                 opts.max_queued_bytes, layers.setting_name(send_queue_opt).c_str(), opts.max_send_queue_bytes);
    return sigkit::cli::exit_usage;
  }
  if (!static_dir.empty()) opts.static_dir = static_dir;
  opts.demo_page = std::string(sigkit::embedded::demo_page);
  opts.server_name = std::string("sigserve/") + SIGKIT_VERSION;
  opts.version = SIGKIT_VERSION;

  sigkit::logger log(*sigkit::parse_log_level(log_level),
                     log_format == "json" ? sigkit::log_format::json : sigkit::log_format::text);
  // Not an error: the environment is shared with other programs.
  for (const auto& unknown : layers.unknown_variables())
    log.warn("unknown-variable", {{"variable", unknown.name},
                                  {"hint", unknown.suggestion ? "did you mean " + *unknown.suggestion + "?"
                                                              : std::string("no sigserve option reads it")}});

  // Every connection is a descriptor: raise the soft limit to the hard one,
  // and say so when even that is short of what the limits allow.
  auto needed = sigkit::sigserve::open_files_needed(opts.max_connections, opts.max_http_connections, opts.threads);
  if (auto limit = sigkit::sigserve::raise_open_files_limit(); limit && limit->soft < needed) {
    log.warn("open-files-limit",
             {{"limit", limit->soft},
              {"needed", needed},
              {"hint", "connections beyond the limit cannot be accepted; raise the hard limit with ulimit -n N "
                       "in the starting shell or LimitNOFILE=N in the systemd unit, or lower "
                       "--max-connections / --max-http-connections"}});
  }

  try {
    sigkit::server::signaling_server server(opts, log);
    auto url = browser_url(opts.listen_address, server.port(), !opts.tls_cert.empty());
    std::printf("sigserve listening on %s/ (open %s/<room> in two browser tabs)\n", url.c_str(), url.c_str());
    std::fflush(stdout);
    auto origins = opts.allowed_origins.empty() ? std::string("default") : joined(opts.allowed_origins);
    auto static_text = opts.static_dir ? opts.static_dir->string() : std::string("built-in");
    log.info("start", {{"url", url},
                       {"addresses", joined(server.addresses())},
                       {"threads", opts.threads},
                       {"room_capacity", opts.room_capacity},
                       {"max_connections", opts.max_connections},
                       {"max_http_connections", opts.max_http_connections},
                       {"max_message_bytes", opts.max_message_bytes},
                       {"ping_interval_ms", opts.ping_interval.count()},
                       {"ping_timeout_ms", opts.ping_timeout.count()},
                       {"rate_limit", opts.rate_limit},
                       {"origins", origins},
                       {"static", static_text},
                       {"log_level", log_level}});
    server.run(/*handle_signals=*/true);
    log.info("stopped");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigserve: %s\n", e.what());
    return exit_start_failure;
  }
  return 0;
}
