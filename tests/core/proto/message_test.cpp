#include "sigkit/proto/message.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace sigkit::proto;
using json = nlohmann::json;

namespace {

decode_error decode_failure(std::string_view frame) {
  auto r = decode(frame);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("decode rejects what is not a JSON object with bad-json") {
  for (auto frame : {"", "{", "not json", "[1,2]", "\"join\"", "42", "null", "{\"type\":\"join\",}"}) {
    INFO(frame);
    CHECK(decode_failure(frame).code == error_code::bad_json);
  }
}

TEST_CASE("decode validates the whole frame, payload included") {
  for (auto frame : {R"({"type":"offer","sdp":"v=0\q"})", R"({"type":"offer","sdp":"\ud83d"})",
                     R"({"type":"offer","n":01})", R"({"type":"offer","n":1e400})", R"({"type":"offer","x":[1,]})",
                     "{\"type\":\"offer\",\"sdp\":\"a\tb\"}", "{\"type\":\"ping\"}\f",
                     "\xEF\xBB\xBF{\"type\":\"ping\"}", "\xC2\xA0{\"type\":\"ping\"}"}) {
    INFO(frame);
    auto e = decode_failure(frame);
    CHECK(e.code == error_code::bad_json);
    CHECK(e.message == "the frame is not valid JSON");
  }
  CHECK(decode_failure("[1,2]").message == "the frame is not a JSON object");
  // Nor is anything after a NUL byte ignored: receivers would choke on it.
  CHECK(decode_failure(std::string_view("{\"type\":\"offer\"}\0junk", 21)).code == error_code::bad_json);
}

TEST_CASE("decode refuses a frame nested deeper than 512 levels") {
  auto frame = [](std::size_t depth) {
    return R"({"type":"message","x":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  CHECK(decode(frame(512)).ok());
  auto e = decode_failure(frame(513));
  CHECK(e.code == error_code::bad_json);
  CHECK(e.message.find("nested too deeply") != std::string::npos);
}

TEST_CASE("decode reads member names and values with escapes resolved") {
  auto r = decode(R"({"t\u0079pe":"j\u006fin","r\u006fom":"caf\u00e9_no"})");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == error_code::invalid_room);
  CHECK(r.error().message.find("caf\xC3\xA9_no") != std::string::npos);
  auto joined = decode(R"({"type":"join","room":"r\u006fom","rid":"\u0031"})");
  REQUIRE(joined.ok());
  CHECK(joined->room == "room");
  CHECK(joined->rid_json == "\"1\"");
  auto relayed = decode(R"({"type":"offer","to":"\u0042ob"})");
  REQUIRE(relayed.ok());
  CHECK(relayed->to == "Bob");
}

TEST_CASE("decode takes the last of duplicated members") {
  auto r = decode(R"({"type":"nope","type":"join","room":"a","room":"b"})");
  REQUIRE(r.ok());
  CHECK(r->type == message_type::join);
  CHECK(r->room == "b");
  CHECK(decode_failure(R"({"type":"ping","type":1})").code == error_code::bad_message);
}

TEST_CASE("an integer rid is echoed as a JSON library prints it") {
  CHECK(decode(R"({"type":"ping","rid":-0})")->rid_json == "0");
  CHECK(decode(R"({"type":"ping","rid":-9223372036854775808})")->rid_json == "-9223372036854775808");
  CHECK(decode(R"({"type":"ping","rid":18446744073709551615})")->rid_json == "18446744073709551615");
  CHECK(decode_failure(R"({"type":"ping","rid":18446744073709551616})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":"ping","rid":1e2})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":"ping","rid":true})").code == error_code::bad_message);
}

TEST_CASE("decode rejects a missing or non-string type with bad-message") {
  CHECK(decode_failure(R"({"room":"a"})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":7})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":null})").code == error_code::bad_message);
}

TEST_CASE("decode names the unknown type") {
  auto e = decode_failure(R"({"type":"create","rid":"r1"})");
  CHECK(e.code == error_code::unknown_type);
  CHECK(e.message.find("create") != std::string::npos);
  CHECK(e.rid_json == "\"r1\"");
}

TEST_CASE("join needs a string room that follows the naming rule") {
  CHECK(decode_failure(R"({"type":"join"})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":"join","room":5})").code == error_code::bad_message);
  for (const std::string& room : {std::string(), std::string("has space"), std::string("slash/no"), std::string(65, 'a'),
                                 std::string("caf\xC3\xA9"), std::string("a?b")}) {
    INFO(room);
    CHECK(decode_failure(json{{"type", "join"}, {"room", room}}.dump()).code == error_code::invalid_room);
  }
  for (const std::string& room : {std::string("a"), std::string("Room_1.x~y-z"), std::string(64, 'z')}) {
    auto r = decode(json{{"type", "join"}, {"room", room}}.dump());
    REQUIRE(r.ok());
    CHECK(r->room == room);
  }
}

TEST_CASE("rid is echoed as given: string or integer up to 64 characters") {
  CHECK(decode(R"({"type":"ping","rid":7})")->rid_json == "7");
  CHECK(decode(R"({"type":"ping","rid":"abc"})")->rid_json == "\"abc\"");
  CHECK(decode(R"({"type":"ping"})")->rid_json.empty());
  auto long_rid = json{{"type", "ping"}, {"rid", std::string(65, 'x')}}.dump();
  CHECK(decode_failure(long_rid).code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":"ping","rid":{"a":1}})").code == error_code::bad_message);
  CHECK(decode_failure(R"({"type":"ping","rid":1.5})").code == error_code::bad_message);
}

TEST_CASE("relays need a string `to` when they name one") {
  CHECK(decode_failure(R"({"type":"offer","to":5})").code == error_code::bad_message);
  auto r = decode(R"({"type":"offer","to":"abc","sdp":"v=0"})");
  REQUIRE(r.ok());
  CHECK(r->to == "abc");
  CHECK(is_relay(r->type));
}

TEST_CASE("a relayed frame keeps the sender's bytes and gains the server's from") {
  std::string frame = R"({"type":"candidate","candidate":{"candidate":"a=1 2.50","sdpMid":"0"},"n":1.50,"x":[1,2]})";
  auto r = decode(frame);
  REQUIRE(r.ok());
  auto out = relay_text(r->relay_body, "PEER");
  CHECK(out == R"({"from":"PEER",)" + frame.substr(1));
  CHECK(json::parse(out)["from"] == "PEER");
}

TEST_CASE("a forged from is replaced, never trusted") {
  auto r = decode(R"({"type":"offer","from":"victim","sdp":"x"})");
  REQUIRE(r.ok());
  auto out = json::parse(relay_text(r->relay_body, "real"));
  CHECK(out["from"] == "real");
  CHECK(out["sdp"] == "x");
  CHECK(out.size() == 3);
}

TEST_CASE("a from spelled with escapes is forged too; one nested deeper is payload") {
  auto r = decode(R"({"type":"offer","fr\u006fm":"victim","sdp":"x"})");
  REQUIRE(r.ok());
  auto out = json::parse(relay_text(r->relay_body, "real"));
  CHECK(out["from"] == "real");
  CHECK(out.size() == 3);

  std::string frame = R"({"type":"offer","sdp":"x","meta":{"from":"kept"},"list":[{"from":1}]})";
  auto nested = decode(frame);
  REQUIRE(nested.ok());
  CHECK(nested->relay_body == frame);
}

TEST_CASE("a re-encode never throws, even for a frame that breaks the UTF-8 precondition") {
  CHECK(decode_failure("{\"type\":\"offer\",\"from\":\"x\",\"sdp\":\"\xff\"}").code == error_code::bad_json);
}

TEST_CASE("server messages match the protocol document") {
  auto welcome = json::parse(encode_welcome("P", "sigserve/0.1.0", {25000, 60000}));
  CHECK(welcome == json::parse(
      R"({"type":"welcome","peer":"P","protocol":1,"server":"sigserve/0.1.0","heartbeat":{"interval_ms":25000,"timeout_ms":60000}})"));
  std::vector<std::string> peers{"a", "b"};
  CHECK(json::parse(encode_joined("foo", "me", peers, "7")) ==
        json::parse(R"({"type":"joined","room":"foo","peer":"me","peers":["a","b"],"rid":7})"));
  CHECK(json::parse(encode_error(error_code::room_full, "room foo is full (2 of 2)", "")) ==
        json::parse(R"j({"type":"error","code":"room-full","message":"room foo is full (2 of 2)"})j"));
  CHECK(json::parse(encode_pong("\"x\"")) == json::parse(R"({"type":"pong","rid":"x"})"));
  CHECK(json::parse(encode_peer_left("r", "p")) == json::parse(R"({"type":"peer-left","room":"r","peer":"p"})"));
}

TEST_CASE("error code names round-trip") {
  for (std::size_t i = 0; i < error_code_count; ++i) {
    auto code = static_cast<error_code>(i);
    CHECK(error_code_from_string(to_string(code)) == code);
  }
  CHECK_FALSE(error_code_from_string("nope"));
}

TEST_CASE("encoded strings survive quotes, backslashes, control characters and non-ASCII text") {
  for (std::string text : {std::string("a \"quoted\" \\ path\n\ttab\x01"), std::string("caf\xc3\xa9 \xe2\x82\xac"),
                           std::string(), std::string("plain")}) {
    INFO(text);
    auto encoded = encode_error(error_code::bad_message, text, "");
    auto parsed = json::parse(encoded);
    CHECK(parsed["message"] == text);
    CHECK(parsed["code"] == "bad-message");
  }
  // Not UTF-8 (it cannot come from a text frame, but never throw on it).
  auto broken = json::parse(encode_error(error_code::bad_message, "\xff\xfe", ""));
  CHECK(broken["message"].is_string());
}
