#include <catch2/catch.hpp>

#include "sigkit/cluster/envelope.hpp"

using sigkit::cluster::decode;
using sigkit::cluster::encode;
using sigkit::cluster::envelope;
using sigkit::cluster::sequence_tracker;

TEST_CASE("a relay envelope carries its frame byte for byte", "[cluster]") {
  envelope e;
  e.what = envelope::kind::relay;
  e.from = "a1b2";
  e.seq = 7;
  e.sent_us = 1764590000123;
  e.room = "call \"1\"";
  e.peer = "p1";
  e.receivers = {"p2", "p3"};
  e.frame = "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}\n\n\xe2\x82\xac";
  e.directed = true;
  e.rid = R"({"n":7})";
  auto back = decode(encode(e));
  REQUIRE(back);
  CHECK(back->what == envelope::kind::relay);
  CHECK(back->from == "a1b2");
  CHECK(back->seq == 7);
  CHECK(back->sent_us == 1764590000123);
  CHECK(back->room == e.room);
  CHECK(back->peer == "p1");
  CHECK(back->receivers == e.receivers);
  CHECK(back->frame == e.frame);
  CHECK(back->directed);
  CHECK(back->rid == e.rid);
}

TEST_CASE("a bounce names the relay's sender, the receivers it missed and the sender's rid", "[cluster]") {
  envelope e;
  e.what = envelope::kind::bounce;
  e.from = "b";
  e.seq = 3;
  e.room = "r";
  e.peer = "sender";
  e.receivers = {"gone"};
  e.directed = true;
  e.rid = "42";
  auto back = decode(encode(e));
  REQUIRE(back);
  CHECK(back->what == envelope::kind::bounce);
  CHECK(back->peer == "sender");
  CHECK(back->receivers == e.receivers);
  CHECK(back->directed);
  CHECK(back->rid == "42");
  e.directed = false;
  e.rid.clear();
  back = decode(encode(e));
  REQUIRE(back);
  CHECK_FALSE(back->directed);
  CHECK(back->rid.empty());
}

TEST_CASE("a joined envelope keeps the user and join time", "[cluster]") {
  envelope e;
  e.what = envelope::kind::joined;
  e.from = "i";
  e.seq = 1;
  e.room = "r";
  e.peer = "p";
  e.user = "alice\n\"x\"";
  e.join_us = 1764590000123456;
  auto back = decode(encode(e));
  REQUIRE(back);
  CHECK(back->user == e.user);
  CHECK(back->join_us == e.join_us);
}

TEST_CASE("a roster lists a room's members oldest first, users and all", "[cluster]") {
  envelope e;
  e.what = envelope::kind::roster;
  e.from = "i";
  e.room = "r";
  e.roster = {{"p1", "i1", ""}, {"p2", "i2", "bob\nsmith \"b\""}};
  auto back = decode(encode(e));
  REQUIRE(back);
  CHECK(back->what == envelope::kind::roster);
  CHECK(back->roster == e.roster);
  CHECK(back->frame.empty());
}

TEST_CASE("a roster as the Lua script writes it is read, an empty one too", "[cluster]") {
  // cjson escapes '/' and writes an empty table as an object.
  auto full = decode(R"({"t":0,"i":"i","k":"S","r":"a\/b","s":0})" "\n"
                     R"(["p1","i1\n","p2","i2\nal\/ice"])");
  REQUIRE(full);
  CHECK(full->room == "a/b");
  CHECK(full->roster == std::vector<envelope::roster_entry>{{"p1", "i1", ""}, {"p2", "i2", "al/ice"}});
  auto empty = decode(R"({"t":0,"i":"i","k":"S","r":"r","s":0})" "\n{}");
  REQUIRE(empty);
  CHECK(empty->roster.empty());
}

TEST_CASE("what is not an envelope is refused", "[cluster]") {
  for (std::string bad : {"", "no newline", "{}\n", "[1]\n", R"({"k":"X","i":"a","s":1,"t":1})" "\n",
                          R"({"k":"R","i":"a","s":1,"t":1,"r":"room"})" "\n",  // a relay for nobody
                          R"({"k":"J","i":"a","s":1,"t":1,"r":"room"})" "\n",  // a join of nobody
                          R"({"k":"P","i":"","s":1,"t":1})" "\n", R"({"k":"P","i":"a","s":-1,"t":1})" "\n",
                          R"({"k":"P","i":"a","s":1,"t":"now"})" "\n", R"({"k":"R","i":"a","s":1,"t":1,"r":"x","to":[1]})" "\n",
                          R"({"k":"B","i":"a","s":1,"t":1,"r":"x"})" "\n",           // a bounce of nobody
                          R"({"k":"R","i":"a","s":1,"t":1,"r":"x","to":["p"],"d":1})" "\n",  // directed, not a bool
                          R"({"k":"R","i":"a","s":1,"t":1,"r":"x","to":["p"],"q":7})" "\n",  // rid, not its JSON text
                          R"({"k":"S","i":"a","s":0,"t":0})" "\n[]",                 // a roster of no room
                          R"({"k":"S","i":"a","s":0,"t":0,"r":"x"})" "\n[\"p1\"]",      // a peer without its instance
                          R"({"k":"S","i":"a","s":0,"t":0,"r":"x"})" "\n[\"p1\",\"i\"]",  // no newline in it
                          R"({"k":"S","i":"a","s":0,"t":0,"r":"x"})" "\n[\"p1\",2]", R"({"k":"S","i":"a","s":0,"t":0,"r":"x"})" "\nnot json"})
    CHECK_FALSE(decode(bad));
}

TEST_CASE("sequence gaps are counted per sender", "[cluster]") {
  sequence_tracker t;
  CHECK(t.observe("a", 5) == 0);  // the first heard starts the count
  CHECK(t.observe("a", 6) == 0);
  CHECK(t.observe("a", 9) == 2);
  CHECK(t.observe("a", 9) == 0);  // a repeat counts as nothing
  CHECK(t.observe("a", 3) == 0);
  CHECK(t.observe("b", 1) == 0);
  CHECK(t.observe("b", 2) == 0);
  CHECK(t.observe("a", 10) == 0);
}
