#include "sigkit/bench/dialect.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sigkit/websocket/utf8.hpp"

using Catch::Matchers::Contains;
using sigkit::bench::bench_tag;
using sigkit::bench::dialect;
using sigkit::bench::fill;
using sigkit::bench::framing;
using sigkit::bench::inbound;
using sigkit::bench::outbound_kind;
using json = nlohmann::json;
using kind = inbound::kind;

namespace {

dialect loaded(const std::string& name_or_path) {
  auto d = dialect::load(name_or_path);
  INFO("dialect: " << name_or_path);
  if (!d) FAIL("unexpected error: " << d.error());
  return std::move(d).value();
}

std::string dialect_file(const char* name) { return std::string(SIGKIT_SOURCE_DIR) + "/scenarios/dialects/" + name; }

json builtin(const char* name) {
  auto text = dialect::builtin_definition(name);
  REQUIRE(text.has_value());
  return json::parse(*text);
}

// The loader's error for a definition that must be refused.
std::string refusal(const json& definition) {
  auto d = dialect::from_json(definition, "test.json");
  INFO("definition: " << definition.dump());
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.error(), Contains("dialect test.json"));
  return d.error();
}

// What the server says, decoded; never an exception, whatever it says.
inbound heard(const dialect& d, std::string_view frame) {
  inbound in;
  INFO("frame: " << frame.substr(0, 200));
  REQUIRE_NOTHROW(in = d.decode(frame));
  return in;
}

// A frame that cannot be what the dialect's server sends: a violation that
// says why, in text a report can hold.
std::string violation_of(const dialect& d, std::string_view frame) {
  const inbound in = heard(d, frame);
  INFO("frame: " << frame.substr(0, 200));
  REQUIRE(in.what == kind::violation);
  CHECK_FALSE(in.why.empty());
  CHECK(sigkit::websocket::is_valid_utf8(in.why));
  return in.why;
}

// A frame sigbench must not act on: ignored, or a violation with a reason.
void refused(const dialect& d, std::string_view frame) {
  const inbound in = heard(d, frame);
  INFO("frame: " << frame.substr(0, 200) << "  why: " << in.why);
  REQUIRE((in.what == kind::ignored || in.what == kind::violation));
  if (in.what == kind::violation) {
    CHECK_FALSE(in.why.empty());
    CHECK(sigkit::websocket::is_valid_utf8(in.why));
  }
}

std::string relay_tag(std::uint64_t seq, std::int64_t t_ns, std::string room) {
  bench_tag tag;
  tag.seq = seq;
  tag.t_ns = t_ns;
  tag.room = std::move(room);
  return tag.to_json();
}

std::string bye_tag(std::string room) {
  bench_tag tag;
  tag.room = std::move(room);
  tag.bye = true;
  return tag.to_json();
}

// A room name a careless encoder would break: a quote, a backslash, control
// characters, a placeholder of its own and some non-ASCII.
const std::string awkward_room = std::string("lobby \"one\" \\ two\x01\x1f\n\t end {{room}} \xC3\xBC\xE2\x82\xAC") +
                                 std::string(1, '\0') + "!";
const std::string sdp_text = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const std::string candidate_text = "candidate:842163049 1 udp 1677729535 127.0.0.1 40001 typ srflx raddr 0.0.0.0 rport 0";

json parsed_json(const std::string& text) {
  INFO("encoded: " << text);
  json j;
  REQUIRE_NOTHROW(j = json::parse(text));
  return j;
}

// A socket.io EVENT as sent: "42" and then a JSON array.
json parsed_event(const std::string& text) {
  INFO("encoded: " << text);
  REQUIRE(text.rfind("42", 0) == 0);
  const json j = parsed_json(text.substr(2));
  REQUIRE(j.is_array());
  REQUIRE_FALSE(j.empty());
  REQUIRE(j[0].is_string());
  return j;
}

std::optional<bench_tag> tag_in(const json& j) {
  REQUIRE(j.is_object());
  return bench_tag::from_json(j);
}

// `[[[...1...]]]`, `depth` deep.
std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + "1" + std::string(depth, ']'); }
std::string nested_objects(std::size_t depth) {
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) out += "{\"a\":";
  out += "1";
  out += std::string(depth, '}');
  return out;
}

}  // namespace

// --- loading --------------------------------------------------------------------

TEST_CASE("the built-in dialects load", "[bench][dialect]") {
  const auto names = dialect::builtin_names();
  REQUIRE(names.size() == 2);
  CHECK(names[0] == "sigkit");
  CHECK(names[1] == "socketio-codelab");

  const dialect sigkit = loaded("sigkit");
  CHECK(sigkit.name() == "sigkit");
  CHECK(sigkit.wire() == framing::json);
  CHECK(sigkit.waits_for_welcome());
  CHECK(sigkit.addresses_peers());
  for (auto k : {outbound_kind::join, outbound_kind::offer, outbound_kind::answer, outbound_kind::candidate,
                 outbound_kind::leave, outbound_kind::bye})
    CHECK(sigkit.can_send(k));

  const dialect codelab = loaded("socketio-codelab");
  CHECK(codelab.name() == "socketio-codelab");
  CHECK(codelab.wire() == framing::socket_io);
  CHECK(codelab.waits_for_welcome());  // socket.io's connect
  CHECK_FALSE(codelab.addresses_peers());
  CHECK(codelab.can_send(outbound_kind::bye));
  CHECK_FALSE(codelab.can_send(outbound_kind::leave));

  CHECK_FALSE(dialect::builtin_definition("nope").has_value());
}

TEST_CASE("the dialect files of scenarios/dialects load", "[bench][dialect]") {
  const dialect sigkit = loaded(dialect_file("sigkit.json"));
  CHECK(sigkit.name() == "sigkit");
  CHECK(sigkit.wire() == framing::json);
  CHECK(sigkit.addresses_peers());
  // The file is the built-in, written out: the docs point to it as such.
  std::ifstream in(dialect_file("sigkit.json"));
  CHECK(json::parse(in) == builtin("sigkit"));

  const dialect relay = loaded(dialect_file("ws-relay.json"));
  CHECK(relay.name() == "ws-relay");
  CHECK(relay.wire() == framing::json);
  CHECK(relay.waits_for_welcome());
  CHECK(relay.addresses_peers());
  CHECK(relay.can_send(outbound_kind::leave));
  CHECK_FALSE(relay.can_send(outbound_kind::bye));
}

TEST_CASE("a dialect that is neither built in nor a file is an error naming it", "[bench][dialect]") {
  auto missing = dialect::load("/nonexistent/dialect.json");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error(), Contains("/nonexistent/dialect.json"));
  CHECK_THAT(missing.error(), Contains("sigkit"));
  CHECK_THAT(missing.error(), Contains("socketio-codelab"));

  const auto path = std::filesystem::temp_directory_path() / "sigkit-dialect-test-broken.json";
  {
    std::ofstream out(path);
    out << "{\"name\": \"broken\", \"send\": {";
  }
  auto broken = dialect::load(path.string());
  std::filesystem::remove(path);
  REQUIRE_FALSE(broken.ok());
  CHECK_THAT(broken.error(), Contains("not valid JSON"));
  CHECK_THAT(broken.error(), Contains(path.string()));
}

// --- encoding -------------------------------------------------------------------

TEST_CASE("sigkit messages are JSON with the placeholders filled and escaped", "[bench][dialect]") {
  const dialect d = loaded("sigkit");
  const std::string tag = relay_tag(7, 123456789, awkward_room);
  const fill f{awkward_room, "peer-a", "peer \"b\"", sdp_text, candidate_text, tag};

  const json join = parsed_json(d.encode(outbound_kind::join, f));
  CHECK(join == json{{"type", "join"}, {"room", awkward_room}});

  for (auto k : {outbound_kind::offer, outbound_kind::answer}) {
    const json j = parsed_json(d.encode(k, f));
    CHECK(j["type"] == (k == outbound_kind::offer ? "offer" : "answer"));
    CHECK(j["to"] == "peer \"b\"");
    CHECK(j["sdp"] == sdp_text);
    const auto t = tag_in(j["bench"]);
    REQUIRE(t.has_value());
    CHECK(t->seq == 7u);
    CHECK(t->t_ns == 123456789);
    CHECK(t->room == awkward_room);
    CHECK_FALSE(t->bye);
  }

  const json candidate = parsed_json(d.encode(outbound_kind::candidate, f));
  CHECK(candidate["type"] == "candidate");
  CHECK(candidate["to"] == "peer \"b\"");
  CHECK(candidate["candidate"] == json{{"candidate", candidate_text}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}});
  REQUIRE(tag_in(candidate["bench"]).has_value());
  CHECK(tag_in(candidate["bench"])->seq == 7u);

  CHECK(parsed_json(d.encode(outbound_kind::leave, f)) == json{{"type", "leave"}});

  const std::string bye = bye_tag(awkward_room);  // fill holds views
  const fill bye_fill{awkward_room, "peer-a", "", "", "", bye};
  const json bye_sent = parsed_json(d.encode(outbound_kind::bye, bye_fill));
  CHECK(bye_sent["type"] == "bye");
  const auto t = tag_in(bye_sent["bench"]);
  REQUIRE(t.has_value());
  CHECK(t->bye);
  CHECK_FALSE(t->seq.has_value());
  CHECK(t->room == awkward_room);
}

TEST_CASE("every control character in a room name round-trips", "[bench][dialect]") {
  const dialect d = loaded("sigkit");
  std::string room;
  for (int c = 0; c < 0x20; ++c) room += static_cast<char>(c);
  room += "\x7f\"\\/";
  const json join = parsed_json(d.encode(outbound_kind::join, fill{room, "", "", "", "", ""}));
  CHECK(join["room"] == room);
}

TEST_CASE("socket.io messages are 42 and an event array", "[bench][dialect]") {
  const dialect d = loaded("socketio-codelab");
  const std::string tag = relay_tag(3, 42, awkward_room);
  const fill f{awkward_room, "sid-a", "", sdp_text, candidate_text, tag};

  CHECK(parsed_event(d.encode(outbound_kind::join, f)) == json::array({"create or join", awkward_room}));

  for (auto k : {outbound_kind::offer, outbound_kind::answer}) {
    const json e = parsed_event(d.encode(k, f));
    REQUIRE(e.size() == 2);
    CHECK(e[0] == "message");
    CHECK(e[1]["type"] == (k == outbound_kind::offer ? "offer" : "answer"));
    CHECK(e[1]["sdp"] == sdp_text);
    const auto t = tag_in(e[1]["bench"]);
    REQUIRE(t.has_value());
    CHECK(t->seq == 3u);
    CHECK(t->room == awkward_room);
  }

  const json candidate = parsed_event(d.encode(outbound_kind::candidate, f));
  CHECK(candidate[0] == "message");
  CHECK(candidate[1]["type"] == "candidate");
  CHECK(candidate[1]["candidate"] == candidate_text);
  CHECK(tag_in(candidate[1]["bench"]).has_value());

  const json bye = parsed_event(d.encode(outbound_kind::bye, fill{awkward_room, "", "", "", "", bye_tag(awkward_room)}));
  CHECK(bye[0] == "message");
  CHECK(bye[1]["type"] == "bye");
  REQUIRE(tag_in(bye[1]["bench"]).has_value());
  CHECK(tag_in(bye[1]["bench"])->bye);
}

TEST_CASE("ws-relay messages fill the sender and the receiver", "[bench][dialect]") {
  const dialect d = loaded(dialect_file("ws-relay.json"));
  const std::string tag = relay_tag(1, 2, "r1");
  const fill f{"r1", "me \"1\"", "you\\2", sdp_text, candidate_text, tag};
  CHECK(parsed_json(d.encode(outbound_kind::join, f)) == json{{"type", "join"}, {"room", "r1"}});
  const json offer = parsed_json(d.encode(outbound_kind::offer, f));
  CHECK(offer["type"] == "video-offer");
  CHECK(offer["name"] == "me \"1\"");
  CHECK(offer["target"] == "you\\2");
  CHECK(offer["sdp"] == json{{"type", "offer"}, {"sdp", sdp_text}});
  CHECK(tag_in(offer["bench"]).has_value());
  const json candidate = parsed_json(d.encode(outbound_kind::candidate, f));
  CHECK(candidate["type"] == "new-ice-candidate");
  CHECK(candidate["candidate"]["candidate"] == candidate_text);
  CHECK(parsed_json(d.encode(outbound_kind::leave, f)) == json{{"type", "leave"}});
}

TEST_CASE("a relay sigbench sent is recognised when the server passes it on", "[bench][dialect]") {
  SECTION("sigkit, which adds the sender") {
    const dialect d = loaded("sigkit");
    json sent = parsed_json(d.encode(outbound_kind::offer, fill{"r", "a", "b", sdp_text, "", relay_tag(11, 99, "r")}));
    sent.erase("to");
    sent["from"] = "a";
    const inbound in = heard(d, sent.dump());
    REQUIRE(in.what == kind::relayed);
    REQUIRE(in.tag.has_value());
    CHECK(in.tag->seq == 11u);
    CHECK(in.tag->t_ns == 99);
    CHECK(in.tag->room == "r");
  }
  SECTION("the codelab server, which passes the event on as it came") {
    const dialect d = loaded("socketio-codelab");
    const std::string sent = d.encode(outbound_kind::candidate, fill{"r", "", "", "", candidate_text, relay_tag(5, 6, "r")});
    const inbound in = heard(d, sent);
    REQUIRE(in.what == kind::relayed);
    REQUIRE(in.tag.has_value());
    CHECK(in.tag->seq == 5u);
  }
}

// --- decoding: sigkit -------------------------------------------------------------

TEST_CASE("sigkit frames are classified", "[bench][dialect]") {
  const dialect d = loaded("sigkit");

  SECTION("welcome") {
    const inbound in = heard(d, R"({"type":"welcome","protocol":1,"peer":"p-1","iceServers":[]})");
    CHECK(in.what == kind::welcome);
    CHECK(in.peer == "p-1");
  }
  SECTION("joined lists the peers already there") {
    const inbound in = heard(d, R"({"type":"joined","room":"r","peers":["a","b"]})");
    CHECK(in.what == kind::joined);
    CHECK(in.peers_listed);
    CHECK(in.peers == std::vector<std::string>{"a", "b"});
    CHECK_FALSE(in.room_complete);
  }
  SECTION("joined an empty room") {
    const inbound in = heard(d, R"({"type":"joined","room":"r","peers":[]})");
    CHECK(in.what == kind::joined);
    CHECK(in.peers_listed);
    CHECK(in.peers.empty());
  }
  SECTION("peer-joined") {
    const inbound in = heard(d, R"({"type":"peer-joined","peer":"c"})");
    CHECK(in.what == kind::peer_joined);
    CHECK(in.peer == "c");
  }
  SECTION("a full room") {
    CHECK(heard(d, R"({"type":"error","code":"room-full","message":"room is full"})").what == kind::full);
  }
  SECTION("another error carries its code") {
    const inbound in = heard(d, R"({"type":"error","code":"invalid-room","message":"bad name"})");
    CHECK(in.what == kind::error);
    CHECK(in.code == "invalid-room");
  }
  SECTION("a relay with sigbench's tag") {
    const inbound in = heard(d, R"({"type":"answer","from":"a","sdp":"x","bench":{"seq":4,"t":17,"room":"r"}})");
    REQUIRE(in.what == kind::relayed);
    REQUIRE(in.tag.has_value());
    CHECK(in.tag->seq == 4u);
    CHECK(in.tag->t_ns == 17);
    CHECK(in.tag->room == "r");
  }
  SECTION("a bye with sigbench's tag") {
    const inbound in = heard(d, R"({"type":"bye","from":"a","bench":{"room":"r","bye":true}})");
    REQUIRE(in.what == kind::relayed);
    REQUIRE(in.tag.has_value());
    CHECK(in.tag->bye);
    CHECK_FALSE(in.tag->seq.has_value());
  }
  SECTION("a relay without a tag is foreign") {
    const inbound in = heard(d, R"({"type":"message","from":"a","data":"hello"})");
    CHECK(in.what == kind::relayed);
    CHECK_FALSE(in.tag.has_value());
  }
  SECTION("a tag sigbench never wrote is foreign") {
    for (const char* frame : {R"({"type":"offer","from":"a","bench":{"seq":"4","t":17,"room":"r"}})",
                              R"({"type":"offer","from":"a","bench":{"seq":-4,"t":17,"room":"r"}})",
                              R"({"type":"offer","from":"a","bench":{"seq":4,"t":"17","room":"r"}})",
                              R"({"type":"offer","from":"a","bench":{"seq":4,"t":17}})",
                              R"({"type":"offer","from":"a","bench":{"seq":4,"t":17,"room":5}})",
                              R"({"type":"offer","from":"a","bench":{"room":"r","bye":"yes"}})",
                              R"({"type":"offer","from":"a","bench":{"room":"r","bye":true,"seq":1,"t":1}})",
                              R"({"type":"offer","from":"a","bench":"{\"seq\":4,\"t\":17,\"room\":\"r\"}"})",
                              R"({"type":"offer","from":"a","bench":[4,17,"r"]})"}) {
      const inbound in = heard(d, frame);
      INFO(frame);
      CHECK(in.what == kind::relayed);
      CHECK_FALSE(in.tag.has_value());
    }
  }
  SECTION("what sigbench does not act on is ignored") {
    for (const char* frame : {R"({"type":"pong"})", R"({"type":"peer-left","peer":"a"})", R"({"type":"left"})", R"({})",
                              R"({"kind":"welcome"})"}) {
      INFO(frame);
      CHECK(heard(d, frame).what == kind::ignored);
    }
  }
}

// --- decoding: socket.io ------------------------------------------------------------

TEST_CASE("socket.io framing speaks Engine.IO and socket.io", "[bench][dialect]") {
  const dialect d = loaded("socketio-codelab");

  SECTION("the Engine.IO open packet is answered with socket.io's connect") {
    const inbound in =
        heard(d, R"(0{"sid":"eio-1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000})");
    CHECK(in.what == kind::reply);
    CHECK(in.reply == "40");
  }
  SECTION("a ping is answered with a pong carrying the same data") {
    const inbound ping = heard(d, "2");
    CHECK(ping.what == kind::reply);
    CHECK(ping.reply == "3");
    const inbound probe = heard(d, "2probe");
    CHECK(probe.what == kind::reply);
    CHECK(probe.reply == "3probe");
  }
  SECTION("pong and noop are ignored") {
    CHECK(heard(d, "3").what == kind::ignored);
    CHECK(heard(d, "6").what == kind::ignored);
  }
  SECTION("socket.io's connect is the welcome") {
    const inbound in = heard(d, R"(40{"sid":"sock-9"})");
    CHECK(in.what == kind::welcome);
    CHECK(in.peer == "sock-9");
  }
  SECTION("created: the first of the room") {
    const inbound in = heard(d, R"(42["created","room-1","sock-9"])");
    CHECK(in.what == kind::joined);
    CHECK_FALSE(in.peers_listed);
    CHECK(in.others == 0);
    CHECK_FALSE(in.room_complete);
  }
  SECTION("joined: the room is complete") {
    const inbound in = heard(d, R"(42["joined","room-1","sock-9"])");
    CHECK(in.what == kind::joined);
    CHECK_FALSE(in.peers_listed);
    CHECK(in.room_complete);
  }
  SECTION("join: someone else came in") { CHECK(heard(d, R"(42["join","room-1"])").what == kind::peer_joined); }
  SECTION("full") { CHECK(heard(d, R"(42["full","room-1"])").what == kind::full); }
  SECTION("a message with and without sigbench's tag") {
    const inbound tagged = heard(d, R"(42["message",{"type":"offer","sdp":"x","bench":{"seq":8,"t":1,"room":"r"}}])");
    REQUIRE(tagged.what == kind::relayed);
    REQUIRE(tagged.tag.has_value());
    CHECK(tagged.tag->seq == 8u);
    const inbound foreign = heard(d, R"(42["message","got user media"])");
    CHECK(foreign.what == kind::relayed);
    CHECK_FALSE(foreign.tag.has_value());
  }
  SECTION("an event with an ack id") {
    const inbound in = heard(d, R"(4217["message",{"type":"offer","bench":{"seq":8,"t":1,"room":"r"}}])");
    REQUIRE(in.what == kind::relayed);
    CHECK(in.tag.has_value());
  }
  SECTION("events sigbench does not act on are ignored") {
    CHECK(heard(d, R"(42["log","Received request to create or join room r"])").what == kind::ignored);
    CHECK(heard(d, R"(42["ipaddr","10.0.0.1"])").what == kind::ignored);
  }
  SECTION("another namespace is not ours") {
    CHECK(heard(d, R"(42/admin,["created","room-1"])").what == kind::ignored);
  }
  SECTION("the server ending the session") {
    const inbound disconnect = heard(d, "41");
    CHECK(disconnect.what == kind::disconnect);
    CHECK_FALSE(disconnect.why.empty());
    const inbound close = heard(d, "1");
    CHECK(close.what == kind::disconnect);
    CHECK_FALSE(close.why.empty());
    const inbound refused_connect = heard(d, R"(44{"message":"Not authorized"})");
    CHECK(refused_connect.what == kind::disconnect);
    CHECK_THAT(refused_connect.why, Contains("Not authorized"));
  }
  SECTION("what is not Engine.IO or socket.io is a violation") {
    violation_of(d, "");
    violation_of(d, "4");
    violation_of(d, "9");
    violation_of(d, "x");
    violation_of(d, "0not json");
    violation_of(d, "0[1,2]");
    violation_of(d, "42");
    violation_of(d, R"(42{"name":"created"})");
    violation_of(d, R"(42[])");
    violation_of(d, R"(42[5,"created"])");
    violation_of(d, R"(42["created")");
    violation_of(d, R"(40{})");
    violation_of(d, R"(40{"sid":5})");
    violation_of(d, R"(40{"sid":""})");
    violation_of(d, R"(40["sid"])");
  }
}

// --- the server as untrusted input ----------------------------------------------------

TEST_CASE("values of the wrong type are violations that name the member", "[bench][dialect]") {
  const dialect d = loaded("sigkit");
  CHECK_THAT(violation_of(d, R"({"type":"welcome","protocol":"1","peer":"a"})"), Contains("/protocol"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome","protocol":2,"peer":"a"})"), Contains("/protocol"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome","peer":"a"})"), Contains("/protocol"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome","protocol":1,"peer":5})"), Contains("/peer"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome","protocol":1,"peer":""})"), Contains("/peer"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome","protocol":1})"), Contains("/peer"));
  CHECK_THAT(violation_of(d, R"({"type":"joined","peers":"x"})"), Contains("/peers"));
  CHECK_THAT(violation_of(d, R"({"type":"joined","peers":[1,2]})"), Contains("/peers"));
  CHECK_THAT(violation_of(d, R"({"type":"joined","peers":["a",null]})"), Contains("/peers"));
  CHECK_THAT(violation_of(d, R"({"type":"joined","peers":{"a":1}})"), Contains("/peers"));
  CHECK_THAT(violation_of(d, R"({"type":"joined"})"), Contains("/peers"));
  CHECK_THAT(violation_of(d, R"({"type":"peer-joined","peer":null})"), Contains("/peer"));
  CHECK_THAT(violation_of(d, R"({"type":"peer-joined","peer":["a"]})"), Contains("/peer"));
  CHECK_THAT(violation_of(d, R"({"type":"error","code":7})"), Contains("/code"));
  CHECK_THAT(violation_of(d, R"({"type":"error"})"), Contains("/code"));
}

TEST_CASE("a frame that is not a JSON object is refused", "[bench][dialect]") {
  const dialect d = loaded("sigkit");
  CHECK_THAT(violation_of(d, ""), Contains("not JSON"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome")"), Contains("not JSON"));
  CHECK_THAT(violation_of(d, "welcome"), Contains("not JSON"));
  CHECK_THAT(violation_of(d, R"({"type":"welcome"} trailing)"), Contains("not JSON"));
  CHECK_THAT(violation_of(d, "{\"type\":\"welcome\",\"peer\":\"\xff\xfe\"}"), Contains("not JSON"));
  for (const char* frame : {R"(["welcome"])", R"([{"type":"welcome","protocol":1,"peer":"a"}])", R"("welcome")", "42",
                            "null", "true", R"({"type":["welcome"],"protocol":1,"peer":"a"})",
                            R"({"type":{"welcome":1}})", R"({"type":null})"})
    refused(d, frame);
}

TEST_CASE("deeply nested frames are refused without exhausting the stack", "[bench][dialect]") {
  const std::size_t depth = 100000;
  const dialect sigkit = loaded("sigkit");
  refused(sigkit, nested_arrays(depth));
  refused(sigkit, nested_objects(depth));
  // Deep values where sigbench reads a member, and so describes what it found.
  violation_of(sigkit, R"({"type":"welcome","protocol":1,"peer":)" + nested_arrays(depth) + "}");
  violation_of(sigkit, R"({"type":"welcome","protocol":)" + nested_objects(depth) + R"(,"peer":"a"})");
  violation_of(sigkit, R"({"type":"joined","peers":)" + nested_arrays(depth) + "}");
  violation_of(sigkit, R"({"type":"error","code":)" + nested_objects(depth) + "}");
  const inbound relay = heard(sigkit, R"({"type":"offer","bench":)" + nested_objects(depth) + "}");
  CHECK(relay.what == kind::relayed);
  CHECK_FALSE(relay.tag.has_value());

  const dialect codelab = loaded("socketio-codelab");
  refused(codelab, "42" + nested_arrays(depth));
  CHECK(heard(codelab, "0" + nested_objects(depth)).what == kind::reply);  // an object all the same
  refused(codelab, "40" + nested_objects(depth));
  const inbound message = heard(codelab, R"(42["message",)" + nested_objects(depth) + "]");
  CHECK(message.what == kind::relayed);
  CHECK_FALSE(message.tag.has_value());
}

TEST_CASE("a violation's reason is valid UTF-8 however the server's text is cut", "[bench][dialect]") {
  // The reason goes into the report (failed peers by reason), which must stay
  // writable as JSON: a reason cut in the middle of a character would not be.
  const dialect d = loaded("sigkit");
  std::string many = "\"";
  for (int i = 0; i < 40; ++i) many += "\xC3\xA9";  // é
  many += "\"";
  for (std::size_t offset = 0; offset < 4; ++offset) {
    const std::string value = "[" + std::string(offset, '1') + (offset ? "," : "") + many + "]";
    const std::string why = violation_of(d, R"({"type":"welcome","protocol":1,"peer":)" + value + "}");
    INFO("why: " << why);
    CHECK_NOTHROW(json(why).dump());
  }
}

// --- the loader's errors ---------------------------------------------------------------

TEST_CASE("dialect definition mistakes are errors that name the member", "[bench][dialect]") {
  const json sigkit = builtin("sigkit");
  const json codelab = builtin("socketio-codelab");
  REQUIRE(dialect::from_json(sigkit, "test.json").ok());
  REQUIRE(dialect::from_json(codelab, "test.json").ok());

  auto with = [](json d, const json::json_pointer& where, json value) {
    d[where] = std::move(value);
    return d;
  };
  auto without = [](json d, const json::json_pointer& where) {
    d[where.parent_pointer()].erase(where.back());
    return d;
  };
  using ptr = json::json_pointer;

  SECTION("not an object") { CHECK_THAT(refusal(json::array({sigkit})), Contains("must be a JSON object")); }
  SECTION("an unknown top-level member") {
    CHECK_THAT(refusal(with(sigkit, ptr("/colour"), "red")), Contains("unknown member \"colour\""));
  }
  SECTION("an unknown framing") {
    CHECK_THAT(refusal(with(sigkit, ptr("/framing"), "xml")), Contains("\"framing\""));
  }
  SECTION("an unknown message to send") {
    CHECK_THAT(refusal(with(sigkit, ptr("/send/shout"), json{{"type", "shout"}})), Contains("\"shout\""));
  }
  SECTION("a required message missing") {
    for (const char* message : {"join", "offer", "answer", "candidate"}) {
      INFO(message);
      CHECK_THAT(refusal(without(sigkit, ptr(std::string("/send/") + message))),
                 Contains(std::string("send needs \"") + message + "\""));
    }
  }
  SECTION("leave and bye may be left out") {
    CHECK(dialect::from_json(without(without(sigkit, ptr("/send/leave")), ptr("/send/bye")), "test.json").ok());
  }
  SECTION("an unknown placeholder") {
    const std::string e = refusal(with(sigkit, ptr("/send/join/room"), "{{nope}}"));
    CHECK_THAT(e, Contains("send.join"));
    CHECK_THAT(e, Contains("{{nope}}"));
  }
  SECTION("an unclosed placeholder") {
    const std::string e = refusal(with(sigkit, ptr("/send/join/room"), "{{room"));
    CHECK_THAT(e, Contains("send.join"));
    CHECK_THAT(e, Contains("unclosed {{"));
  }
  SECTION("a relay without the bench object") {
    for (const char* message : {"offer", "answer", "candidate", "bye"}) {
      INFO(message);
      const std::string e = refusal(without(sigkit, ptr(std::string("/send/") + message + "/bench")));
      CHECK_THAT(e, Contains(std::string("send.") + message));
      CHECK_THAT(e, Contains("\"{{bench}}\""));
    }
  }
  SECTION("the bench object not as a whole string value") {
    for (const char* text : {"x{{bench}}", "{{bench}} ", "{{bench}}{{bench}}", "x\"{{bench}}", "\\\"{{bench}}",
                             "{{bench}}\""}) {
      INFO(text);
      CHECK_THAT(refusal(with(sigkit, ptr("/send/offer/bench"), text)), Contains("whole string value"));
    }
    json as_key = without(sigkit, ptr("/send/offer/bench"));
    as_key["send"]["offer"]["{{bench}}"] = "x";
    CHECK_THAT(refusal(as_key), Contains("whole string value"));
  }
  SECTION("a placeholder the message has nothing for") {
    CHECK_THAT(refusal(with(sigkit, ptr("/send/join/bench"), "{{bench}}")), Contains("send.join cannot use {{bench}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/join/sdp"), "{{sdp}}")), Contains("send.join cannot use {{sdp}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/join/to"), "{{to}}")), Contains("send.join cannot use {{to}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/bye/to"), "{{to}}")), Contains("send.bye cannot use {{to}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/leave/to"), "{{to}}")), Contains("send.leave cannot use {{to}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/offer/c"), "{{candidate}}")), Contains("send.offer cannot use {{candidate}}"));
    CHECK_THAT(refusal(with(sigkit, ptr("/send/candidate/sdp"), "{{sdp}}")), Contains("send.candidate cannot use {{sdp}}"));
  }
  SECTION("relays that address a receiver only in part") {
    CHECK_THAT(refusal(without(sigkit, ptr("/send/candidate/to"))), Contains("must all address"));
    CHECK_THAT(refusal(without(sigkit, ptr("/send/offer/to"))), Contains("must all address"));
  }
  SECTION("addressed relays need the members' ids") {
    json d = sigkit;
    d["receive"]["joined"] = {{"match", {{"/type", "joined"}}}, {"others", "all"}};
    CHECK_THAT(refusal(d), Contains("needs \"peers\""));
  }
  SECTION("socket.io framing with a template that is not an event array") {
    for (const json& t : {json{{"event", "create or join"}}, json::array(), json::array({5, "{{room}}"}), json("join")}) {
      INFO(t.dump());
      CHECK_THAT(refusal(with(codelab, ptr("/send/join"), t)), Contains("send.join must be a socket.io event"));
    }
  }
  SECTION("socket.io framing has no welcome of its own") {
    CHECK_THAT(refusal(with(codelab, ptr("/receive/welcome"), json{{"match", {{"/0", "hi"}}}})), Contains("receive.welcome"));
  }
  SECTION("receive mistakes") {
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/hello"), json{{"match", {{"/type", "hello"}}}})), Contains("\"hello\""));
    CHECK_THAT(refusal(without(sigkit, ptr("/receive/joined"))), Contains("\"joined\""));
    CHECK_THAT(refusal(without(sigkit, ptr("/receive/relayed"))), Contains("\"relayed\""));
    CHECK_THAT(refusal(without(sigkit, ptr("/receive/relayed/bench"))), Contains("receive.relayed needs \"bench\""));
    CHECK_THAT(refusal(without(sigkit, ptr("/receive/peer-joined/match"))), Contains("receive.peer-joined needs \"match\""));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/welcome/peer"), "peer")), Contains("receive.welcome.peer"));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/welcome/peer"), "/a~2b")), Contains("receive.welcome.peer"));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/full/code"), "/code")), Contains("receive.full.code"));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/error/expect"), json{{"/x", 1}})), Contains("receive.error.expect"));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/joined/others"), 1)), Contains("receive.joined"));
    CHECK_THAT(refusal(with(sigkit, ptr("/receive/joined/colour"), 1)), Contains("\"colour\""));
  }
  SECTION("the source names the definition") {
    auto d = dialect::from_json(with(sigkit, ptr("/colour"), "red"), "/etc/sigbench/mine.json");
    REQUIRE_FALSE(d.ok());
    CHECK_THAT(d.error(), Contains("/etc/sigbench/mine.json"));
  }
}

TEST_CASE("a definition's name is the dialect's name", "[bench][dialect]") {
  json d = builtin("sigkit");
  d["name"] = "mine";
  auto named = dialect::from_json(d, "mine.json");
  REQUIRE(named.ok());
  CHECK(named->name() == "mine");
  d.erase("name");
  auto unnamed = dialect::from_json(d, "mine.json");
  REQUIRE(unnamed.ok());
  CHECK(unnamed->name() == "mine.json");
}
