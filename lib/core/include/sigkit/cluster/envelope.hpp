// What sigserve instances that share rooms through a broker tell each other,
// one envelope per message on the receiving instance's inbox channel. Pure:
// an envelope to bytes and back.
//
// An envelope says who it is from (the sending instance) and carries that
// sender's sequence number for this receiver, so a receiver sees a gap (a
// message the broker dropped) and counts it; and the wall-clock time it was
// sent, for the cross-instance latency. Its body is one of:
//
//   joined  a member of `room` joined on the sender: `peer`, `user`
//   left    it left (or its connection ended, or its instance was swept)
//   relay   `frame` (the relayed text, `from` already set) for `receivers`,
//           members of `room` on the receiving instance; `directed` when the
//           sender named its receiver (`to`), with the sender's `rid`
//   bounce  the answer to a relay some of whose `receivers` are not (any
//           more) the receiving instance's members of `room`: the sender's
//           instance had a stale view of them
//   probe   the sender's own health check of its subscription
//   roster  `room`'s members as Redis held them (`roster`), written by a Lua
//           script into the asking instance's own inbox: placed exactly
//           among the notices, it repairs a view that missed some
//   resync  the sender has (re)registered, and what it said of its members
//           while it was away from the broker may be lost: read your rooms
//           again
//
// Wire form: one line of JSON (the header), a newline, then the frame's
// bytes as they are, so a relayed frame is never re-encoded. A roster's body
// is a JSON array of strings: peer, then "instance\nuser", for each member
// oldest first (as the room's hash holds them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sigkit::cluster {

struct envelope {
  enum class kind : char {
    joined = 'J',
    left = 'L',
    relay = 'R',
    bounce = 'B',
    probe = 'P',
    roster = 'S',
    resync = 'Y'
  };
  struct roster_entry {
    std::string peer, instance, user;
    bool operator==(const roster_entry&) const = default;
  };
  kind what = kind::probe;
  std::string from;        // the sending instance
  std::uint64_t seq = 0;   // the sender's count of envelopes to this receiver, from 1
  std::int64_t sent_us = 0;  // wall clock, µs since the epoch
  std::string room;
  std::string peer;        // joined, left: the member; relay, bounce: the sender
  std::string user;        // joined: the member's authenticated user, if any
  std::int64_t join_us = 0;  // joined: when, for the order of `peers`
  std::vector<std::string> receivers;  // relay; bounce: those not reached
  std::string frame;                   // relay
  bool directed = false;               // relay, bounce: the sender named its receiver
  std::string rid;                     // relay, bounce: the sender's rid as JSON, if any
  std::vector<roster_entry> roster;    // roster
};

std::string encode(const envelope& e);
// nullopt: not an envelope this version writes (a stranger on the channel).
std::optional<envelope> decode(std::string_view bytes);

// Gaps in the envelopes one receiver gets from each sender.
class sequence_tracker {
 public:
  // The envelopes missing before this one (0 when it is the next expected).
  // An old or repeated number counts as nothing and changes nothing.
  std::uint64_t observe(const std::string& sender, std::uint64_t seq);
  void forget(const std::string& sender) { last_.erase(sender); }

 private:
  std::map<std::string, std::uint64_t, std::less<>> last_;
};

}  // namespace sigkit::cluster
