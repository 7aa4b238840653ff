// sigkit::redis::connection against a real redis-server on loopback: what
// its URLs mean, that commands and scripts come back byte for byte and in
// order, and what a caller sees when Redis refuses it, dies, comes back,
// freezes, or is not Redis at all.
#include "sigkit/redis/connection.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/error.hpp"
#include "sigkit/redis/script.hpp"
#include "sigkit/resp/value.hpp"
#include "quick_client.hpp"
#include "support/redis_process.hpp"

using namespace std::chrono_literals;
using sigkit::redis::errc;
using sigkit::resp::value;
using sigkit::test::endpoint_of;
using sigkit::test::quick;
using sigkit::test::redis_process;
using sigkit::test::run_until;
using sigkit::test::scripted_server;

namespace {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;


struct outcome {
  bool done = false;
  std::error_code ec;
  value reply;
};

sigkit::redis::reply_handler into(outcome& o) {
  return [&o](std::error_code ec, value reply) {
    o.done = true;
    o.ec = ec;
    o.reply = std::move(reply);
  };
}

// A started connection and every state it reported.
struct tracked_connection {
  asio::io_context& io;
  sigkit::redis::connection redis;
  std::vector<bool> states;

  tracked_connection(asio::io_context& io_, const std::string& url, sigkit::redis::options o = quick())
      : io(io_), redis(io_, endpoint_of(url), std::move(o)) {
    redis.on_state([this](bool up) { states.push_back(up); });
    redis.start();
  }
  bool wait_up(std::chrono::milliseconds limit = 3s) {
    return run_until(io, [this] { return redis.connected(); }, limit);
  }
  // One command to its end, within `limit`.
  outcome call(std::vector<std::string> args, std::chrono::milliseconds limit = 2s) {
    outcome o;
    redis.command(std::move(args), into(o));
    REQUIRE(run_until(io, [&o] { return o.done; }, limit));
    return o;
  }
  outcome eval(const sigkit::redis::script& s, std::vector<std::string> keys, std::vector<std::string> args = {}) {
    outcome o;
    redis.eval(s, std::move(keys), std::move(args), into(o));
    REQUIRE(run_until(io, [&o] { return o.done; }, 2s));
    return o;
  }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

// ---- URLs -------------------------------------------------------------------------

TEST_CASE("parse_url reads host and port and credentials and database", "[redis][url]") {
  auto plain = sigkit::redis::parse_url("redis://cache.internal");
  REQUIRE(plain);
  CHECK(plain->host == "cache.internal");
  CHECK(plain->port == 6379);
  CHECK(plain->db == 0);
  CHECK(plain->user.empty());
  CHECK(plain->password.empty());

  // A password holding '@', ':' and '/' is percent-encoded.
  auto full = sigkit::redis::parse_url("redis://:p%40ss%3Aw%2Frd@10.0.0.5:6380/3");
  REQUIRE(full);
  CHECK(full->host == "10.0.0.5");
  CHECK(full->port == 6380);
  CHECK(full->db == 3);
  CHECK(full->user.empty());
  CHECK(full->password == "p@ss:w/rd");

  auto user = sigkit::redis::parse_url("REDIS://sigserve:s3cret@redis:7000/0");
  REQUIRE(user);
  CHECK(user->user == "sigserve");
  CHECK(user->password == "s3cret");
  CHECK(user->host == "redis");
  CHECK(user->port == 7000);

  auto v6 = sigkit::redis::parse_url("redis://[::1]:7001/15");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 7001);
  CHECK(v6->db == 15);
  auto v6_default = sigkit::redis::parse_url("redis://[2001:db8::7]");
  REQUIRE(v6_default);
  CHECK(v6_default->host == "2001:db8::7");
  CHECK(v6_default->port == 6379);

  CHECK(sigkit::redis::parse_url("redis://h/")->db == 0);
}

TEST_CASE("parse_url reads rediss as the same over TLS", "[redis][url]") {
  auto tls = sigkit::redis::parse_url("rediss://:pw@cache:6380/1");
  REQUIRE(tls);
  CHECK(tls->tls);
  CHECK(tls->host == "cache");
  CHECK(tls->port == 6380);
  CHECK(tls->password == "pw");
  CHECK(tls->db == 1);
  CHECK(tls->to_string() == "rediss://cache:6380/1");
  CHECK_FALSE(sigkit::redis::parse_url("redis://cache")->tls);
  CHECK(sigkit::redis::parse_url("REDISS://cache")->tls);
}

TEST_CASE("parse_url refuses malformed URLs with a reason", "[redis][url]") {

  struct bad_url {
    const char* url;
    const char* says;
  };
  for (const auto& [url, says] : {
           bad_url{"", "not a redis:// URL"},
           bad_url{"http://cache:6379", "not a redis:// URL"},
           bad_url{"redisss://cache", "not a redis:// URL"},
           bad_url{"rediss://", "no host"},
           bad_url{"cache:6379", "not a redis:// URL"},
           bad_url{"redis:/cache", "not a redis:// URL"},
           bad_url{"redis://", "no host"},
           bad_url{"redis://:pw@", "no host"},
           bad_url{"redis://:6379", "no host"},
           bad_url{"redis://cache:", "empty port"},
           bad_url{"redis://cache:0", "bad port '0'"},
           bad_url{"redis://cache:65536", "bad port '65536'"},
           bad_url{"redis://cache:+1", "bad port"},
           bad_url{"redis://cache:63 79", "bad port"},
           bad_url{"redis://cache/db1", "bad database number 'db1'"},
           bad_url{"redis://cache/-1", "bad database number"},
           bad_url{"redis://cache/99999999999", "bad database number"},
           bad_url{"redis://cache/1/2", "bad database number"},
           bad_url{"redis://alice@cache", "a user needs a password"},
           bad_url{"redis://:@cache", "empty password"},
           bad_url{"redis://:pw%4@cache", "bad percent-encoding"},
           bad_url{"redis://:pw%zz@cache", "bad percent-encoding"},
           bad_url{"redis://[::1", "unclosed '['"},
           bad_url{"redis://[::1]6379", "unexpected text after the IPv6 address"},
           bad_url{"redis://[::1]:", "empty port"},
           bad_url{"redis://cache?db=1", "no query or fragment"},
           bad_url{"redis://cache#x", "no query or fragment"},
       }) {
    INFO(url);
    auto r = sigkit::redis::parse_url(url);
    REQUIRE_FALSE(r);
    CHECK(contains(r.error(), says));
  }
}

TEST_CASE("endpoint to_string names the server but never the password", "[redis][url]") {
  CHECK(endpoint_of("redis://:hunter2@cache:6380/2").to_string() == "redis://cache:6380/2");
  CHECK(endpoint_of("redis://admin:hunter2@cache").to_string() == "redis://cache:6379/0");
  CHECK(endpoint_of("redis://:hunter2@[::1]:7000").to_string() == "redis://[::1]:7000/0");
}

// ---- Commands ---------------------------------------------------------------------

TEST_CASE("SET then GET gives back binary values byte for byte", "[redis]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url());
  REQUIRE(c.wait_up());
  CHECK(c.states == std::vector<bool>{true});

  // NUL, CRLF and what looks like RESP inside a key and a value.
  const std::string key("key\0\r\n:1\r\n", 10);
  const std::string binary = std::string("a\0b\r\nc", 6) + "\r\n$-1\r\n*1\r\n+OK\r\n\xff\xfe";
  auto set = c.call({"SET", key, binary});
  CHECK_FALSE(set.ec);
  CHECK(set.reply == value::simple("OK"));
  auto get = c.call({"GET", key});
  CHECK_FALSE(get.ec);
  CHECK(get.reply == value::bulk(binary));
  // Redis holds exactly those bytes.
  CHECK(server.cli({"STRLEN", key}) == ":" + std::to_string(binary.size()) + "\r\n");

  // Larger than a read: the reply comes in many pieces.
  std::string big(3 << 20, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
  CHECK(c.call({"SET", "big", big}).reply == value::simple("OK"));
  CHECK(c.call({"GET", "big"}).reply == value::bulk(big));

  CHECK(c.call({"SET", "empty", ""}).reply == value::simple("OK"));
  CHECK(c.call({"GET", "empty"}).reply == value::bulk(""));
  CHECK(c.call({"GET", "missing"}).reply.is_null());
  CHECK(c.redis.stats().disconnects == 0);
}

TEST_CASE("a pipeline of 10000 INCRs is answered in order", "[redis]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.command_timeout = 3s;  // for all of them, from the moment they are given (sanitizer builds are slow)
  tracked_connection c(io, server.url(), o);
  REQUIRE(c.wait_up());

  constexpr int count = 10000;
  std::vector<std::int64_t> replies;
  int failures = 0;
  for (int i = 0; i < count; ++i)
    c.redis.command({"INCR", "n"}, [&](std::error_code ec, value reply) {
      if (ec) ++failures;
      replies.push_back(reply.integer);
    });
  REQUIRE(run_until(io, [&] { return replies.size() == count; }, 10s));
  CHECK(failures == 0);
  int out_of_order = 0;
  for (int i = 0; i < count; ++i) out_of_order += replies[static_cast<std::size_t>(i)] != i + 1;
  CHECK(out_of_order == 0);
  CHECK(server.cli({"GET", "n"}) == "$5\r\n10000\r\n");
}

TEST_CASE("an error reply is server_error with Redis' own text and the connection stays up", "[redis]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url());
  REQUIRE(c.wait_up());

  REQUIRE(c.call({"SET", "s", "abc"}).reply == value::simple("OK"));
  auto incr = c.call({"INCR", "s"});
  CHECK(incr.ec == errc::server_error);
  CHECK(incr.ec.message() == "Redis answered with an error");
  CHECK(incr.reply == value::error("ERR value is not an integer or out of range"));
  auto wrongtype = c.call({"LPUSH", "s", "x"});
  CHECK(wrongtype.ec == errc::server_error);
  CHECK(wrongtype.reply.text == "WRONGTYPE Operation against a key holding the wrong kind of value");
  auto unknown = c.call({"NOSUCHCOMMAND", "a"});
  CHECK(unknown.ec == errc::server_error);
  CHECK(unknown.reply.text.starts_with("ERR unknown command 'NOSUCHCOMMAND'"));

  auto ping = c.call({"PING"});
  CHECK_FALSE(ping.ec);
  CHECK(ping.reply == value::simple("PONG"));
  CHECK(c.states == std::vector<bool>{true});
  CHECK(c.redis.stats().disconnects == 0);
}

TEST_CASE("a READONLY answer (the server became a replica) drops the connection until a primary answers", "[redis][failure]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url());
  REQUIRE(c.wait_up());
  // A failover demotes the server: it follows a primary (here one that is
  // not there) and refuses writes.
  server.cli({"REPLICAOF", "127.0.0.1", "1"});
  auto refused = c.call({"SET", "k", "v"});
  CHECK(refused.ec == errc::server_error);
  CHECK(refused.reply.text.starts_with("READONLY"));
  REQUIRE(run_until(io, [&] { return !c.redis.connected(); }, 2s));
  // While the address leads to a replica, attempts fail and back off.
  REQUIRE(run_until(io, [&] { return c.redis.stats().failed_attempts >= 2; }, 3s));
  CHECK(c.states == std::vector<bool>{true, false});
  CHECK(contains(c.redis.last_error(), "ROLE: the server is a slave, not the primary"));
  // Promoted again (or the address now leads to the new primary): writes go through.
  server.cli({"REPLICAOF", "NO", "ONE"});
  REQUIRE(c.wait_up());
  CHECK(c.call({"SET", "k", "v"}).reply == value::simple("OK"));
  CHECK(c.states == std::vector<bool>{true, false, true});
  CHECK(c.redis.stats().disconnects == 1);
}

TEST_CASE("commands beyond max_in_flight fail with backlog_full and are not sent", "[redis]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.max_in_flight = 2;
  tracked_connection c(io, server.url(), o);
  REQUIRE(c.wait_up());

  outcome first, second, third;
  c.redis.command({"INCR", "n"}, into(first));
  c.redis.command({"INCR", "n"}, into(second));
  c.redis.command({"INCR", "n"}, into(third));
  CHECK_FALSE(third.done);  // never inside the call
  REQUIRE(run_until(io, [&] { return first.done && second.done && third.done; }, 2s));
  CHECK(first.reply == value::number(1));
  CHECK(second.reply == value::number(2));
  CHECK(third.ec == errc::backlog_full);
  CHECK(server.cli({"GET", "n"}) == "$1\r\n2\r\n");
  // Once the replies are in there is room again.
  CHECK(c.call({"INCR", "n"}).reply == value::number(3));
}

// ---- Logging in -------------------------------------------------------------------

TEST_CASE("AUTH with the percent-encoded password from the URL logs in", "[redis][auth]") {
  redis_process server({"--requirepass", "p@ss:w/rd"});
  CHECK(contains(server.url(), "p%40ss%3Aw%2Frd@"));
  asio::io_context io;
  tracked_connection c(io, server.url());
  INFO(c.redis.last_error());
  REQUIRE(c.wait_up());
  CHECK(c.call({"SET", "k", "v"}).reply == value::simple("OK"));
  CHECK(server.cli({"GET", "k"}) == "$1\r\nv\r\n");
}

TEST_CASE("a wrong or missing password never connects and last_error says why", "[redis][auth]") {
  redis_process server({"--requirepass", "right"});
  const std::string where = "127.0.0.1:" + std::to_string(server.port());
  asio::io_context io;

  tracked_connection wrong(io, "redis://:wrong@" + where);
  tracked_connection missing(io, "redis://" + where);
  REQUIRE(run_until(
      io, [&] { return wrong.redis.stats().failed_attempts >= 2 && missing.redis.stats().failed_attempts >= 2; }, 3s));
  for (auto* c : {&wrong, &missing}) {
    CHECK_FALSE(c->redis.connected());
    CHECK(c->states.empty());
    CHECK(c->redis.stats().connects == 0);
    auto refused = c->call({"PING"});
    CHECK(refused.ec == errc::unavailable);
  }
  CHECK(wrong.redis.last_error().starts_with("AUTH: WRONGPASS"));
  CHECK(missing.redis.last_error() == "PING: NOAUTH Authentication required.");
}

TEST_CASE("the database in the URL is selected on every connect and the client is named", "[redis]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.client_name = "sigkit-test";
  tracked_connection c(io, server.url() + "/3", o);
  REQUIRE(c.wait_up());
  REQUIRE(c.call({"SET", "a", "1"}).reply == value::simple("OK"));
  auto keyspace = server.cli({"INFO", "keyspace"});
  CHECK(contains(keyspace, "db3:keys=1,"));
  CHECK_FALSE(contains(keyspace, "db0:"));
  auto clients = server.cli({"CLIENT", "LIST"});
  CHECK(contains(clients, "name=sigkit-test"));
  CHECK(contains(clients, " db=3 "));

  // Redis drops the connection: it comes back, in database 3 again.
  CHECK(server.cli({"CLIENT", "KILL", "TYPE", "normal"}) == ":1\r\n");
  REQUIRE(run_until(io, [&] { return c.states.size() == 3; }, 2s));
  CHECK(c.states == std::vector<bool>{true, false, true});
  CHECK(c.redis.last_error() == "Redis closed the connection");
  CHECK(c.redis.stats().connects == 2);
  CHECK(c.redis.stats().disconnects == 1);
  REQUIRE(c.call({"SET", "b", "2"}).reply == value::simple("OK"));
  CHECK(contains(server.cli({"INFO", "keyspace"}), "db3:keys=2,"));
}

TEST_CASE("a database Redis does not have fails the handshake with Redis' reason", "[redis]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url() + "/99");
  REQUIRE(run_until(io, [&] { return c.redis.stats().failed_attempts >= 1; }, 2s));
  CHECK_FALSE(c.redis.connected());
  CHECK(c.redis.last_error() == "SELECT: ERR DB index is out of range");
}

TEST_CASE("a host name is resolved before connecting", "[redis]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, "redis://localhost:" + std::to_string(server.port()));
  INFO(c.redis.last_error());
  REQUIRE(c.wait_up());
  CHECK(c.call({"PING"}).reply == value::simple("PONG"));

  tracked_connection nowhere(io, "redis://no-such-host.invalid:6379");
  REQUIRE(run_until(io, [&] { return nowhere.redis.stats().failed_attempts >= 1; }, 3s));
  // "resolve no-such-host.invalid: Host not found", or, where DNS does not
  // answer at all, the connect deadline: either way it names the host.
  CHECK(contains(nowhere.redis.last_error(), "no-such-host.invalid"));
  CHECK_FALSE(nowhere.redis.connected());
}

// ---- Scripts ----------------------------------------------------------------------

TEST_CASE("eval runs a script and after SCRIPT FLUSH loads it again and runs it once", "[redis][eval]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url());
  REQUIRE(c.wait_up());
  const sigkit::redis::script incr("return redis.call('INCR', KEYS[1])");

  // A new server knows no script: NOSCRIPT, SCRIPT LOAD, EVALSHA.
  auto first = c.eval(incr, {"counter"});
  CHECK_FALSE(first.ec);
  CHECK(first.reply == value::number(1));
  CHECK(server.cli({"SCRIPT", "EXISTS", incr.sha1()}) == "*1\r\n:1\r\n");
  // The hash is the one Redis computes.
  CHECK(server.cli({"SCRIPT", "LOAD", incr.body()}) == "$40\r\n" + incr.sha1() + "\r\n");

  CHECK(c.eval(incr, {"counter"}).reply == value::number(2));
  CHECK(server.cli({"SCRIPT", "FLUSH"}) == "+OK\r\n");
  auto after_flush = c.eval(incr, {"counter"});
  CHECK_FALSE(after_flush.ec);
  CHECK(after_flush.reply == value::number(3));
  // Exactly once each: three evals, three increments.
  CHECK(server.cli({"GET", "counter"}) == "$1\r\n3\r\n");

  // Keys and arguments reach the script byte for byte.
  const sigkit::redis::script echo("return {KEYS[1], KEYS[2], ARGV[1], #ARGV}");
  const std::string binary("x\0\r\ny", 5);
  auto echoed = c.eval(echo, {"k1", binary}, {"\xff\r\n", "b", "c"});
  CHECK_FALSE(echoed.ec);
  CHECK(echoed.reply ==
        value::array({value::bulk("k1"), value::bulk(binary), value::bulk("\xff\r\n"), value::number(3)}));
  CHECK(c.redis.stats().disconnects == 0);
}

TEST_CASE("a script that does not compile or fails is a server_error that says so", "[redis][eval]") {
  redis_process server;
  asio::io_context io;
  tracked_connection c(io, server.url());
  REQUIRE(c.wait_up());

  auto syntax = c.eval(sigkit::redis::script("return +"), {});
  CHECK(syntax.ec == errc::server_error);
  CHECK(syntax.reply.text.starts_with("ERR Error compiling script"));

  auto failing = c.eval(sigkit::redis::script("return redis.call('NOSUCHCOMMAND')"), {});
  CHECK(failing.ec == errc::server_error);
  CHECK(failing.reply.text.starts_with("ERR Unknown Redis command called from script"));

  CHECK(c.call({"PING"}).reply == value::simple("PONG"));
  CHECK(c.redis.stats().disconnects == 0);
}

// ---- Failures ---------------------------------------------------------------------

TEST_CASE("commands fail at once with unavailable before start and while Redis is down", "[redis][failure]") {
  redis_process server;
  server.stop();
  asio::io_context io;
  sigkit::redis::connection redis(io, endpoint_of(server.url()), quick());
  std::vector<bool> states;
  redis.on_state([&](bool up) { states.push_back(up); });

  outcome before_start;
  redis.command({"PING"}, into(before_start));
  CHECK_FALSE(before_start.done);  // never inside the call
  REQUIRE(run_until(io, [&] { return before_start.done; }, 100ms));
  CHECK(before_start.ec == errc::unavailable);
  CHECK(before_start.reply.is_null());
  CHECK(redis.last_error().empty());

  redis.start();
  REQUIRE(run_until(io, [&] { return redis.stats().failed_attempts >= 3; }, 3s));
  CHECK(redis.last_error() == "connect to " + endpoint_of(server.url()).to_string() + ": Connection refused");
  outcome while_down;
  redis.command({"PING"}, into(while_down));
  REQUIRE(run_until(io, [&] { return while_down.done; }, 100ms));
  CHECK(while_down.ec == errc::unavailable);
  CHECK(states.empty());  // failed attempts are not state changes

  // It keeps trying, and connects once there is a server.
  server.restart();
  REQUIRE(run_until(io, [&] { return redis.connected(); }, 2s));
  CHECK(states == std::vector<bool>{true});
  CHECK(redis.stats().connects == 1);
  CHECK(redis.stats().disconnects == 0);
}

TEST_CASE("a killed server fails the commands in flight and the connection returns by itself", "[redis][failure]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.command_timeout = 10s;  // BLPOP waits for as long as the test wants
  tracked_connection c(io, server.url(), o);
  REQUIRE(c.wait_up());

  outcome blocked, behind;
  c.redis.command({"BLPOP", "queue", "0"}, into(blocked));
  c.redis.command({"GET", "x"}, into(behind));
  REQUIRE(run_until(io, [&] { return contains(server.cli({"INFO", "clients"}), "blocked_clients:1\r\n"); }, 2s));

  server.stop(SIGKILL);
  REQUIRE(run_until(io, [&] { return blocked.done && behind.done && c.states.size() == 2; }, 2s));
  CHECK(blocked.ec == errc::connection_lost);
  CHECK(behind.ec == errc::connection_lost);
  CHECK(c.states == std::vector<bool>{true, false});
  CHECK_FALSE(c.redis.connected());
  CHECK(c.redis.stats().disconnects == 1);
  CHECK(c.call({"PING"}).ec == errc::unavailable);

  // Down for a few attempts, then back on the same port.
  REQUIRE(run_until(io, [&] { return c.redis.stats().failed_attempts >= 2; }, 2s));
  server.restart();
  // The next attempt comes within backoff_max (200 ms) and connects.
  REQUIRE(run_until(io, [&] { return c.states.size() == 3; }, 1500ms));
  CHECK(c.states == std::vector<bool>{true, false, true});
  CHECK(c.redis.stats().connects == 2);
  CHECK(c.redis.stats().disconnects == 1);
  CHECK(c.redis.stats().timeouts == 0);
  CHECK(c.call({"SET", "k", "v"}).reply == value::simple("OK"));
}

TEST_CASE("a paused server times a command out and the connection recovers after SIGCONT", "[redis][failure]") {
  redis_process server;
  asio::io_context io;
  const auto o = quick();
  tracked_connection c(io, server.url(), o);
  REQUIRE(c.wait_up());

  server.pause();
  outcome first, second;
  const auto given = clock::now();
  c.redis.command({"SET", "k", "1"}, into(first));
  c.redis.command({"SET", "k", "2"}, into(second));
  REQUIRE(run_until(io, [&] { return first.done; }, o.command_timeout + 500ms));
  CHECK(clock::now() - given >= o.command_timeout);
  CHECK(first.ec == errc::timeout);
  CHECK(first.ec.message() == "Redis did not answer in time");
  REQUIRE(second.done);  // in the same drop
  CHECK(second.ec == errc::connection_lost);
  CHECK(c.states == std::vector<bool>{true, false});
  CHECK(c.redis.last_error() == "Redis did not answer within 300 ms");
  CHECK(c.redis.stats().timeouts == 1);
  CHECK(c.redis.stats().disconnects == 1);

  // The kernel still accepts for the frozen server, but the handshake gets
  // no answer: each attempt ends at connect_timeout.
  REQUIRE(run_until(io, [&] { return c.redis.stats().failed_attempts >= 1; }, 2s));
  CHECK(c.redis.last_error() == "connect to " + endpoint_of(server.url()).to_string() + " timed out after 500 ms");
  CHECK_FALSE(c.redis.connected());

  server.resume();
  REQUIRE(run_until(io, [&] { return c.redis.connected(); }, 3s));
  CHECK(c.states == std::vector<bool>{true, false, true});
  CHECK(c.call({"INCR", "n"}).reply == value::number(1));
}

TEST_CASE("a server that is not Redis is a protocol error and is tried again", "[redis][failure]") {
  asio::io_context io;
  scripted_server http(io, {{"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"}});
  tracked_connection c(io, http.url());
  REQUIRE(run_until(io, [&] { return http.accepted() >= 3 && c.redis.stats().failed_attempts >= 3; }, 3s));
  CHECK_FALSE(c.redis.connected());
  CHECK(c.states.empty());
  CHECK(c.redis.stats().connects == 0);
  CHECK(c.redis.last_error().starts_with("protocol error from Redis: "));
  CHECK(c.call({"PING"}).ec == errc::unavailable);
}

TEST_CASE("a server that echoes what it is sent is not taken for Redis", "[redis][failure]") {
  asio::io_context io;
  // What a socket that TCP connected to itself reads: the client's own
  // handshake, ROLE and PING.
  scripted_server echo(io, {{"*1\r\n$4\r\nROLE\r\n*1\r\n$4\r\nPING\r\n"}});
  tracked_connection c(io, echo.url());
  REQUIRE(run_until(io, [&] { return echo.accepted() >= 2 && c.redis.stats().failed_attempts >= 2; }, 3s));
  CHECK(c.states.empty());
  CHECK(c.redis.stats().connects == 0);
  CHECK(c.redis.last_error() == "PING: not a Redis reply: [\"PING\"]");
}

TEST_CASE("a malformed reply fails its command with protocol and drops the connection", "[redis][failure]") {
  asio::io_context io;
  // The handshake's ROLE (a primary) and PONG, then what is not RESP2.
  scripted_server broken(io, {{"*1\r\n$6\r\nmaster\r\n+PONG\r\n", "%3\r\nabc\r\n"}});
  tracked_connection c(io, broken.url());
  REQUIRE(c.wait_up());
  auto get = c.call({"GET", "k"});
  CHECK(get.ec == errc::protocol);
  CHECK(get.reply.is_null());
  CHECK(c.states == std::vector<bool>{true, false});
  CHECK(c.redis.stats().disconnects == 1);
  CHECK(c.redis.last_error().starts_with("protocol error from Redis: "));
  // And it tries again.
  REQUIRE(run_until(io, [&] { return c.states.size() == 3; }, 2s));
  CHECK(broken.accepted() == 2);
}

TEST_CASE("a reply over the reply limits is a protocol error and the connection is made again", "[redis][failure]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.reply_limits.max_bulk_bytes = 1000;
  tracked_connection c(io, server.url(), o);
  REQUIRE(c.wait_up());
  REQUIRE(c.call({"SET", "small", std::string(1000, 's')}).reply == value::simple("OK"));
  REQUIRE(c.call({"SET", "large", std::string(1001, 'l')}).reply == value::simple("OK"));
  CHECK(c.call({"GET", "small"}).reply == value::bulk(std::string(1000, 's')));

  outcome large, behind;
  c.redis.command({"GET", "large"}, into(large));
  c.redis.command({"PING"}, into(behind));
  REQUIRE(run_until(io, [&] { return large.done && behind.done; }, 2s));
  CHECK(large.ec == errc::protocol);
  CHECK(behind.ec == errc::connection_lost);
  CHECK(c.redis.last_error().starts_with("protocol error from Redis: "));
  REQUIRE(c.wait_up());
  CHECK(c.states == std::vector<bool>{true, false, true});
  CHECK(c.call({"GET", "small"}).reply == value::bulk(std::string(1000, 's')));
}

// ---- Lifetime ---------------------------------------------------------------------

TEST_CASE("a connection destroyed inside a handler calls nothing more", "[redis][lifetime]") {
  redis_process server;
  asio::io_context io;
  auto c = std::make_unique<sigkit::redis::connection>(io, endpoint_of(server.url()), quick());
  int states = 0;
  c->on_state([&](bool) { ++states; });
  c->start();
  REQUIRE(run_until(io, [&] { return c->connected(); }, 3s));

  int later_replies = 0;
  bool first = false;
  c->command({"PING"}, [&](std::error_code, value) {
    first = true;
    c.reset();
  });
  for (int i = 0; i < 3; ++i) c->command({"PING"}, [&](std::error_code, value) { ++later_replies; });
  REQUIRE(run_until(io, [&] { return first; }, 2s));
  sigkit::test::run_for(io, 100ms);
  CHECK(later_replies == 0);
  CHECK(states == 1);
}

TEST_CASE("a connection destroyed by its state handler when Redis dies calls nothing more", "[redis][lifetime]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.command_timeout = 10s;
  auto c = std::make_unique<sigkit::redis::connection>(io, endpoint_of(server.url()), o);
  std::vector<bool> states;
  c->on_state([&](bool up) {
    states.push_back(up);
    if (!up) c.reset();
  });
  c->start();
  REQUIRE(run_until(io, [&] { return c && c->connected(); }, 3s));
  outcome blocked;
  c->command({"BLPOP", "queue", "0"}, into(blocked));
  REQUIRE(run_until(io, [&] { return contains(server.cli({"INFO", "clients"}), "blocked_clients:1\r\n"); }, 2s));

  server.stop(SIGKILL);
  REQUIRE(run_until(io, [&] { return c == nullptr; }, 2s));
  // The command in flight heard first, then the state handler (which closed it).
  CHECK(blocked.ec == errc::connection_lost);
  server.restart();
  sigkit::test::run_for(io, 300ms);
  CHECK(states == std::vector<bool>{true, false});
}
