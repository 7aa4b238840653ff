// sigprobe: is my STUN/TURN server reachable, does it relay, and what is my
// NAT doing? Command-line wiring only; the engine is sigkit::probe_engine::run.
//
// Exit codes: 0 every server passed every stage asked of it, 1 some stage
// failed (fetching the servers from --from-sigserve included), 2 usage error
// (bad URI or URL, unreadable file, missing credentials).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"

#include "sigkit/duration.hpp"
#include "sigkit/probe/probe.hpp"
#include "sigkit/probe_engine/engine.hpp"
#include "sigkit/probe/diagnosis.hpp"
#include "sigkit/probe/output.hpp"
#include "sigkit/probe/targets.hpp"

namespace {


int usage_error(const std::string& what) { return sigkit::cli::usage_error("sigprobe", what); }

// The whole of a file, or of stdin for "-"; nullopt with errno set.
std::optional<std::string> read_all(const std::string& path) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sigprobe: checks STUN/TURN servers stage by stage (dns, connect, tls, binding, allocate,\n"
      "relay, refresh) and says what is wrong in plain words; --nat adds RFC 5780 NAT discovery.\n"
      "URIs: stun:host[:port], stuns:host[:port], turn:host[:port][?transport=udp|tcp],\n"
      "turns:host[:port][?transport=tcp] (default ports 3478, TLS 5349).\n"
      "--from-sigserve ws://host:port/ws probes the ICE servers a signaling server hands its clients.\n"
      "Exit codes: 0 every stage passed, 1 some stage failed, 2 usage error.",
      "sigprobe"};
  app.set_version_flag("--version", std::string("sigprobe ") + SIGKIT_VERSION);

  std::vector<std::string> uris;
  std::string ice_servers_path, ca_file, from_sigserve, origin;
  std::string username, password, secret;
  std::string ttl = "1h", timeout = "10s";
  unsigned count = 5;
  bool nat = false, json = false, insecure = false;

  app.add_option("uris", uris, "STUN/TURN URIs to probe");
  app.add_option("--ice-servers", ice_servers_path,
                 "RTCIceServer JSON array (urls, username, credential) from FILE, or - for stdin");
  auto* from_sigserve_opt = app.add_option(
      "--from-sigserve", from_sigserve,
      "Probe the ICE servers a signaling server hands out: the ice_servers of its welcome (ws://host:port/ws), "
      "with the TURN credentials it minted");
  app.add_option("--origin", origin, "--from-sigserve: the Origin header to send (the server may allow only some)")
      ->needs(from_sigserve_opt);
  app.add_option("--username", username, "TURN username (with --secret: the user part of the REST username)")
      ->envname("SIGPROBE_USERNAME");
  app.add_option("--password", password, "TURN password (long-term credentials); or set SIGPROBE_PASSWORD")
      ->envname("SIGPROBE_PASSWORD");
  app.add_option("--secret", secret, "TURN REST shared secret (coturn static-auth-secret); or set SIGPROBE_SECRET")
      ->envname("SIGPROBE_SECRET");
  app.add_option("--ttl", ttl, "Lifetime of the REST credentials made from --secret (default 1h)")
      ->check(sigkit::cli::duration_text);
  app.add_option("--count", count, "Binding requests per server, and packets through the relay (default 5)")
      ->check(CLI::Range(1u, 100u));
  app.add_option("--timeout", timeout,
                 "Limit for the whole run: the --from-sigserve fetch and every server together (default 10s)")
      ->check(sigkit::cli::duration_text);
  app.add_flag("--nat", nat, "Discover NAT mapping and filtering behaviour (RFC 5780) via the first UDP server");
  app.add_flag("--json", json, "Print one JSON document instead of text");
  app.add_flag("--insecure", insecure, "TLS: go on when the certificate does not verify (still reported)");
  app.add_option("--ca-file", ca_file, "TLS: trust the CAs in this PEM file instead of the system store");

  if (auto stop = sigkit::cli::parse(app, argc, argv)) return *stop;

  if (!from_sigserve.empty())
    if (auto problem = sigkit::probe_engine::signaling_url_problem(from_sigserve))
      return usage_error("--from-sigserve: " + *problem);

  std::vector<sigkit::probe::ice_server> ice_servers;
  if (!ice_servers_path.empty()) {
    const auto text = read_all(ice_servers_path);
    if (!text) return usage_error("cannot read " + ice_servers_path + ": " + std::strerror(errno));
    auto parsed = sigkit::probe::parse_ice_servers(*text);
    if (!parsed) return usage_error(ice_servers_path + ": " + parsed.error());
    ice_servers = std::move(parsed.value());
  }
  if (!ca_file.empty() && !std::ifstream(ca_file))
    return usage_error("cannot read --ca-file " + ca_file + ": " + std::strerror(errno));

  sigkit::probe::credential_options creds;
  if (!username.empty()) creds.username_ = username;
  if (!password.empty()) creds.password_ = password;
  if (!secret.empty()) creds.secret_ = secret;
  creds.ttl_ = sigkit::cli::duration_of<std::chrono::seconds>(ttl);
  creds.now_unix_ =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (auto problem = sigkit::probe::check_credential_options(creds)) return usage_error(*problem);
  // With --from-sigserve alone, the list comes from the welcome.
  std::vector<sigkit::probe::target> targets;
  if (from_sigserve.empty() || !uris.empty() || !ice_servers.empty()) {
    auto made = sigkit::probe::make_targets(uris, ice_servers, creds);
    if (!made) return usage_error(made.error());
    targets = std::move(made.value());
  }
  std::optional<sigkit::probe_engine::signaling_source> signaling;
  if (!from_sigserve.empty()) signaling = sigkit::probe_engine::signaling_source{from_sigserve, origin, creds};

  sigkit::probe::options opts;
  opts.count_ = count;
  opts.timeout_ = sigkit::cli::duration_of<std::chrono::milliseconds>(timeout);
  opts.nat_ = nat;
  opts.insecure_ = insecure;
  opts.ca_file_ = ca_file;
  opts.software_ = std::string("sigprobe ") + SIGKIT_VERSION;
  if (opts.timeout_.count() <= 0) return usage_error("--timeout must be positive");

  sigkit::probe::report report;
  try {
    report = sigkit::probe_engine::run(targets, opts, signaling);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sigprobe: %s\n", e.what());
    return 1;
  }
  if (json) std::cout << sigkit::probe::to_json(report).dump(2) << "\n";
  else sigkit::probe::write_text(std::cout, report);
  std::cout.flush();
  return sigkit::probe::exit_code(report);
}
