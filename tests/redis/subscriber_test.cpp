// sigkit::redis::subscriber against a real redis-server on loopback: what a
// connection publishes arrives byte for byte, on the channels subscribed and
// no others, and keeps arriving after Redis restarts or freezes and thaws.
#include "sigkit/redis/subscriber.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

#include "sigkit/redis/connection.hpp"
#include "sigkit/redis/endpoint.hpp"
#include "sigkit/redis/error.hpp"
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


using message = std::pair<std::string, std::string>;  // channel, payload

// A subscriber and everything it reported.
struct tracked_subscriber {
  asio::io_context& io;
  sigkit::redis::subscriber sub;
  std::vector<bool> states;
  std::vector<message> messages;

  tracked_subscriber(asio::io_context& io_, const std::string& url, sigkit::redis::options o = quick())
      : io(io_), sub(io_, endpoint_of(url), std::move(o)) {
    sub.on_state([this](bool up) { states.push_back(up); });
    sub.on_message([this](std::string_view channel, std::string payload) {
      messages.emplace_back(std::string(channel), std::move(payload));
    });
  }
  bool wait_up(std::chrono::milliseconds limit = 3s) {
    return run_until(io, [this] { return sub.connected(); }, limit);
  }
  bool wait_messages(std::size_t n, std::chrono::milliseconds limit = 2s) {
    return run_until(io, [this, n] { return messages.size() >= n; }, limit);
  }
};

// The connection that publishes.
struct publisher {
  asio::io_context& io;
  sigkit::redis::connection redis;

  publisher(asio::io_context& io_, const std::string& url) : io(io_), redis(io_, endpoint_of(url), quick()) {
    redis.start();
  }
  bool wait_up() {
    return run_until(io, [this] { return redis.connected(); }, 3s);
  }
  // PUBLISH, to its reply: how many subscribers Redis delivered it to.
  std::int64_t publish(const std::string& channel, const std::string& payload) {
    bool done = false;
    std::int64_t receivers = -1;
    redis.command({"PUBLISH", channel, payload}, [&](std::error_code ec, value reply) {
      done = true;
      if (!ec) receivers = reply.integer;
    });
    REQUIRE(run_until(io, [&] { return done; }, 2s));
    return receivers;
  }
};

std::error_code await(asio::io_context& io, const std::function<void(sigkit::redis::subscriber::done_handler)>& op) {
  bool done = false;
  std::error_code result = errc::timeout;
  op([&](std::error_code ec) {
    done = true;
    result = ec;
  });
  REQUIRE_FALSE(done);  // never inside the call
  REQUIRE(run_until(io, [&] { return done; }, 2s));
  return result;
}

}  // namespace

TEST_CASE("a subscriber receives what is published with its channel and payload byte for byte", "[redis][pubsub]") {
  redis_process server;
  asio::io_context io;
  publisher pub(io, server.url());
  REQUIRE(pub.wait_up());

  // Binary-safe both ways, with what looks like a pub/sub message inside.
  const std::string channel("inbox:\0\xff\r\n", 10);
  std::string payload = std::string("a\0b", 3) + "\r\n*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n";
  payload += std::string(200'000, '\x7f');  // larger than one read

  tracked_subscriber s(io, server.url());
  std::error_code before_start = errc::timeout;
  bool subscribe_done = false;
  s.sub.subscribe(channel, [&](std::error_code ec) {
    subscribe_done = true;
    before_start = ec;
  });
  // on_state(true) comes once Redis has confirmed the subscription, so a
  // PUBLISH sent from the handler finds one subscriber.
  std::int64_t receivers = -1;
  s.sub.on_state([&](bool up) {
    s.states.push_back(up);
    if (up)
      pub.redis.command({"PUBLISH", channel, payload}, [&](std::error_code, value reply) { receivers = reply.integer; });
  });
  s.sub.start();
  REQUIRE(s.wait_messages(1));
  CHECK(subscribe_done);
  CHECK(before_start == errc::unavailable);  // not connected then: subscribed on connect
  CHECK(receivers == 1);
  CHECK(s.states == std::vector<bool>{true});
  REQUIRE(s.messages.size() == 1);
  CHECK(s.messages[0].first == channel);
  CHECK(s.messages[0].second == payload);

  CHECK(pub.publish("elsewhere", "x") == 0);
  CHECK(pub.publish(channel, "second") == 1);
  REQUIRE(s.wait_messages(2));
  CHECK(s.messages.size() == 2);
  CHECK(s.messages[1] == message{channel, "second"});
}

TEST_CASE("subscribe while connected is confirmed through its done handler", "[redis][pubsub]") {
  redis_process server;
  asio::io_context io;
  publisher pub(io, server.url());
  tracked_subscriber s(io, server.url());
  s.sub.start();
  REQUIRE(s.wait_up());
  REQUIRE(pub.wait_up());
  CHECK(pub.publish("room:1", "early") == 0);

  CHECK_FALSE(await(io, [&](auto done) { s.sub.subscribe("room:1", std::move(done)); }));
  CHECK_FALSE(await(io, [&](auto done) { s.sub.subscribe("room:2", std::move(done)); }));
  CHECK(pub.publish("room:2", "two") == 1);
  CHECK(pub.publish("room:1", "one") == 1);
  REQUIRE(s.wait_messages(2));
  CHECK(s.messages == std::vector<message>{{"room:2", "two"}, {"room:1", "one"}});
  CHECK(s.states == std::vector<bool>{true});
}

TEST_CASE("unsubscribe stops delivery at once", "[redis][pubsub]") {
  redis_process server;
  asio::io_context io;
  publisher pub(io, server.url());
  tracked_subscriber s(io, server.url());
  s.sub.subscribe("a");
  s.sub.subscribe("b");
  s.sub.start();
  REQUIRE(s.wait_up());
  REQUIRE(pub.wait_up());

  // Redis delivers this one before it is told to unsubscribe, but the
  // subscriber reads it after: it must not pass it on.
  CHECK(server.cli({"PUBLISH", "a", "dropped"}) == ":1\r\n");
  s.sub.unsubscribe("a");
  CHECK(pub.publish("b", "kept") == 1);
  REQUIRE(s.wait_messages(1));
  // Replies on the subscriber's connection come in order: after the ping,
  // Redis has done the UNSUBSCRIBE.
  CHECK_FALSE(await(io, [&](auto done) { s.sub.ping(std::move(done)); }));
  CHECK(pub.publish("a", "gone") == 0);
  CHECK(pub.publish("b", "still") == 1);
  REQUIRE(s.wait_messages(2));
  CHECK(s.messages == std::vector<message>{{"b", "kept"}, {"b", "still"}});
  CHECK(s.sub.stats().disconnects == 0);

  // The last channel too: the connection leaves the subscribed state, and
  // its idle traffic still works.
  s.sub.unsubscribe("b");
  CHECK_FALSE(await(io, [&](auto done) { s.sub.ping(std::move(done)); }));
  CHECK(pub.publish("b", "nobody") == 0);
  CHECK(s.sub.connected());
}

TEST_CASE("ping answers on a subscribed connection and fails with unavailable when down", "[redis][pubsub]") {
  redis_process server;
  asio::io_context io;
  tracked_subscriber s(io, server.url());
  CHECK(await(io, [&](auto done) { s.sub.ping(std::move(done)); }) == errc::unavailable);
  s.sub.subscribe("c");
  s.sub.start();
  REQUIRE(s.wait_up());
  CHECK_FALSE(await(io, [&](auto done) { s.sub.ping(std::move(done)); }));
  CHECK(s.sub.stats().timeouts == 0);

  server.stop(SIGKILL);
  REQUIRE(run_until(io, [&] { return !s.sub.connected(); }, 2s));
  CHECK(await(io, [&](auto done) { s.sub.ping(std::move(done)); }) == errc::unavailable);
}

TEST_CASE("after a restart the subscriber subscribes again by itself and receives", "[redis][pubsub][failure]") {
  redis_process server;
  asio::io_context io;
  publisher pub(io, server.url());
  tracked_subscriber s(io, server.url());
  s.sub.subscribe("inbox:7");
  s.sub.subscribe("inbox:8");
  s.sub.start();
  REQUIRE(s.wait_up());
  REQUIRE(pub.wait_up());
  CHECK(pub.publish("inbox:7", "before") == 1);
  REQUIRE(s.wait_messages(1));

  // A clean shutdown this time: Redis closes its clients' connections itself.
  server.stop(SIGTERM);
  REQUIRE(run_until(io, [&] { return s.states.size() == 2 && s.sub.stats().failed_attempts >= 1; }, 2s));
  CHECK(s.states == std::vector<bool>{true, false});
  CHECK_FALSE(s.sub.connected());

  server.restart();
  REQUIRE(run_until(io, [&] { return s.states.size() == 3 && pub.redis.connected(); }, 2s));
  CHECK(s.states == std::vector<bool>{true, false, true});
  // Both channels, on a server that has never seen them.
  CHECK(pub.publish("inbox:8", "after") == 1);
  CHECK(pub.publish("inbox:7", "after") == 1);
  REQUIRE(s.wait_messages(3));
  CHECK(s.messages == std::vector<message>{{"inbox:7", "before"}, {"inbox:8", "after"}, {"inbox:7", "after"}});
  CHECK(s.sub.stats().connects == 2);
  CHECK(s.sub.stats().disconnects == 1);
}

TEST_CASE("a paused server is found by the idle ping and the subscriber recovers", "[redis][pubsub][failure]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.idle_ping = 100ms;
  publisher pub(io, server.url());
  tracked_subscriber s(io, server.url(), o);
  s.sub.subscribe("inbox:1");
  s.sub.start();
  REQUIRE(s.wait_up());

  // Nobody asks anything: only the idle ping can notice.
  server.pause();
  const auto paused = clock::now();
  REQUIRE(run_until(io, [&] { return s.states.size() == 2; }, o.idle_ping + o.command_timeout + 500ms));
  CHECK(clock::now() - paused >= o.command_timeout);
  CHECK(s.states == std::vector<bool>{true, false});
  CHECK(s.sub.stats().timeouts == 1);
  CHECK(s.sub.last_error() == "Redis did not answer within 300 ms");

  server.resume();
  REQUIRE(run_until(io, [&] { return s.sub.connected() && pub.redis.connected(); }, 3s));
  CHECK(s.states == std::vector<bool>{true, false, true});
  CHECK(pub.publish("inbox:1", "thawed") == 1);
  REQUIRE(s.wait_messages(1));
  CHECK(s.messages.back() == message{"inbox:1", "thawed"});
}

TEST_CASE("a subscriber idle on a healthy server keeps its connection", "[redis][pubsub]") {
  redis_process server;
  asio::io_context io;
  auto o = quick();
  o.idle_ping = 50ms;
  tracked_subscriber s(io, server.url(), o);
  s.sub.subscribe("quiet");
  s.sub.start();
  REQUIRE(s.wait_up());
  const auto pings = [&server] {
    const std::string stats = server.cli({"INFO", "commandstats"});
    const std::string label = "cmdstat_ping:calls=";
    const auto at = stats.find(label);
    return at == std::string::npos ? 0 : std::stoi(stats.substr(at + label.size()));
  };
  const int pings_before = pings();
  // Several idle pings go by, each answered.
  sigkit::test::run_for(io, 400ms);
  CHECK(pings() - pings_before >= 3);
  CHECK(s.sub.connected());
  CHECK(s.states == std::vector<bool>{true});
  CHECK(s.sub.stats().timeouts == 0);
  CHECK(s.sub.stats().disconnects == 0);
}

TEST_CASE("a SUBSCRIBE answered with anything but its confirmation fails the connect", "[redis][pubsub][failure]") {
  asio::io_context io;
  // The first connection's SUBSCRIBE gets +OK; every later one gets its
  // confirmation, but no answer to the PING that ends the handshake.
  scripted_server fake(io, {{"+OK\r\n"}, {"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"}});
  tracked_subscriber s(io, fake.url());
  s.sub.subscribe("ch");
  s.sub.start();
  REQUIRE(run_until(io, [&] { return fake.accepted() >= 3 && s.sub.stats().failed_attempts >= 3; }, 3s));
  CHECK(s.states.empty());
  CHECK(s.sub.stats().connects == 0);
  CHECK_FALSE(s.sub.connected());
}

TEST_CASE("a subscriber destroyed inside its message handler calls nothing more", "[redis][pubsub][lifetime]") {
  redis_process server;
  asio::io_context io;
  publisher pub(io, server.url());
  auto s = std::make_unique<sigkit::redis::subscriber>(io, endpoint_of(server.url()), quick());
  int messages = 0;
  int states = 0;
  s->on_state([&](bool) { ++states; });
  s->on_message([&](std::string_view, std::string) {
    ++messages;
    s.reset();
  });
  s->subscribe("x");
  s->start();
  REQUIRE(run_until(io, [&] { return s->connected(); }, 3s));
  REQUIRE(pub.wait_up());
  // Both arrive in one read, most likely: the second must not be delivered.
  pub.redis.command({"PUBLISH", "x", "1"}, [](std::error_code, value) {});
  pub.redis.command({"PUBLISH", "x", "2"}, [](std::error_code, value) {});
  REQUIRE(run_until(io, [&] { return s == nullptr; }, 2s));
  sigkit::test::run_for(io, 100ms);
  CHECK(messages == 1);
  CHECK(states == 1);
}
