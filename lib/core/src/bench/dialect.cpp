#include "sigkit/bench/dialect.hpp"

#include <array>
#include <fstream>
#include <sstream>

namespace sigkit::bench {
namespace {

using json = nlohmann::json;

// The placeholders, by their number in a compiled template (0 ends it).
enum hole : std::uint8_t { end = 0, room = 1, self = 2, to = 3, sdp = 4, candidate = 5, bench = 6 };
constexpr std::array<std::pair<std::string_view, hole>, 6> hole_names{{
    {"room", room}, {"self", self}, {"to", to}, {"sdp", sdp}, {"candidate", candidate}, {"bench", bench}}};

constexpr std::array<std::string_view, 6> outbound_names{"join", "offer", "answer", "candidate", "leave", "bye"};

std::string_view hole_name(hole h) {
  for (const auto& [name, value] : hole_names)
    if (value == h) return name;
  return "?";
}

// Which placeholders each outbound message (in outbound_names' order) has
// something for.
constexpr unsigned bits(std::initializer_list<hole> holes) {
  unsigned out = 0;
  for (auto h : holes) out |= 1u << h;
  return out;
}
constexpr std::array<unsigned, 6> fillable{
    bits({room, self}),                      bits({room, self, to, sdp, bench}), bits({room, self, to, sdp, bench}),
    bits({room, self, to, candidate, bench}), bits({room, self}),                bits({room, self, bench})};

// The built-ins, in the format of a dialect file (docs in scenarios/dialects/).
constexpr std::string_view sigkit_definition = R"({
  "name": "sigkit",
  "description": "sigkit protocol v1 (docs/protocol.md): sigserve, and any server that speaks it",
  "framing": "json",
  "send": {
    "join": {"type": "join", "room": "{{room}}"},
    "offer": {"type": "offer", "to": "{{to}}", "bench": "{{bench}}", "sdp": "{{sdp}}"},
    "answer": {"type": "answer", "to": "{{to}}", "bench": "{{bench}}", "sdp": "{{sdp}}"},
    "candidate": {"type": "candidate", "to": "{{to}}", "bench": "{{bench}}",
                  "candidate": {"candidate": "{{candidate}}", "sdpMid": "0", "sdpMLineIndex": 0}},
    "leave": {"type": "leave"},
    "bye": {"type": "bye", "bench": "{{bench}}"}
  },
  "receive": {
    "welcome": {"match": {"/type": "welcome"}, "peer": "/peer", "expect": {"/protocol": 1}},
    "joined": {"match": {"/type": "joined"}, "peers": "/peers"},
    "peer-joined": {"match": {"/type": "peer-joined"}, "peer": "/peer"},
    "full": {"match": {"/type": "error", "/code": "room-full"}},
    "error": {"match": {"/type": "error"}, "code": "/code"},
    "relayed": {"match": {"/type": ["offer", "answer", "candidate", "bye", "message"]}, "bench": "/bench"}
  }
})";

// The codelab's server (https://codelabs.developers.google.com/codelabs/webrtc-web,
// step 5) ported to socket.io 4: the first of a room gets `created`, the
// second `joined` (and the first `join`), a third `full`; `message` goes to
// every other socket of the server, whatever its room.
constexpr std::string_view codelab_definition = R"({
  "name": "socketio-codelab",
  "description": "the WebRTC codelab's socket.io server: 'create or join' rooms of two, 'message' broadcast",
  "framing": "socket.io",
  "send": {
    "join": ["create or join", "{{room}}"],
    "offer": ["message", {"type": "offer", "sdp": "{{sdp}}", "bench": "{{bench}}"}],
    "answer": ["message", {"type": "answer", "sdp": "{{sdp}}", "bench": "{{bench}}"}],
    "candidate": ["message", {"type": "candidate", "label": 0, "id": "0", "candidate": "{{candidate}}",
                              "bench": "{{bench}}"}],
    "bye": ["message", {"type": "bye", "bench": "{{bench}}"}]
  },
  "receive": {
    "joined": [{"match": {"/0": "created"}, "others": 0},
               {"match": {"/0": "joined"}, "others": "all"}],
    "peer-joined": {"match": {"/0": "join"}},
    "full": {"match": {"/0": "full"}},
    "relayed": {"match": {"/0": "message"}, "bench": "/1/bench"}
  }
})";

constexpr std::array<std::string_view, 2> builtins{"sigkit", "socketio-codelab"};

// RFC 8259 §7: the escapes a string's contents need.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
}

using error = std::string;

// RFC 6901: "/a/0/b~1c" -> ["a", "0", "b/c"].
result<dialect::pointer, error> parse_pointer(const json& v, const std::string& where) {
  if (!v.is_string()) return error(where + " must be a JSON pointer (a string like \"/type\")");
  const auto& text = v.get_ref<const std::string&>();
  dialect::pointer p;
  p.text = text;
  if (text.empty()) return p;  // the whole document
  if (text.front() != '/') return error(where + " must be a JSON pointer starting with '/', got \"" + text + "\"");
  std::size_t pos = 1;
  for (;;) {
    auto slash = text.find('/', pos);
    auto raw = text.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    std::string token;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
        continue;
      }
      if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        return error(where + ": '~' must be followed by 0 or 1 in \"" + text + "\" (RFC 6901)");
      }
    }
    p.tokens.push_back(std::move(token));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  return p;
}

result<dialect::compiled_template, error> compile_template(const json& value, const std::string& where) {
  dialect::compiled_template out;
  out.present = true;
  const std::string text = value.dump();
  std::string literal;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find("{{", pos);
    if (open == std::string::npos) {
      literal += text.substr(pos);
      break;
    }
    auto close = text.find("}}", open + 2);
    if (close == std::string::npos) return error(where + ": unclosed {{ in " + text);
    auto name = std::string_view(text).substr(open + 2, close - open - 2);
    hole h = end;
    for (const auto& [n, value_hole] : hole_names)
      if (n == name) h = value_hole;
    if (h == end)
      return error(where + ": unknown placeholder {{" + std::string(name) +
                   "}} (known: room, self, to, sdp, candidate, bench)");
    literal += text.substr(pos, open - pos);
    pos = close + 2;
    if (h == bench) {
      // "{{bench}}" stands for a JSON object: the quotes go with it. The
      // opening quote must be a string's own, not an escaped one inside it
      // (an odd number of backslashes before it), and as dump() is compact,
      // a ':' after the closing quote would make it a key.
      std::size_t backslashes = 0;
      while (backslashes + 1 < open && text[open - 2 - backslashes] == '\\') ++backslashes;
      if (literal.empty() || literal.back() != '"' || backslashes % 2 == 1 || pos >= text.size() || text[pos] != '"' ||
          (pos + 1 < text.size() && text[pos + 1] == ':'))
        return error(where + ": \"{{bench}}\" must be a whole string value, where sigbench puts an object");
      literal.pop_back();
      ++pos;
    }
    out.parts.push_back({std::move(literal), h});
    literal.clear();
  }
  out.parts.push_back({std::move(literal), end});
  return out;
}

bool uses(const dialect::compiled_template& t, hole h) {
  for (const auto& p : t.parts)
    if (p.hole == h) return true;
  return false;
}

result<dialect::matcher, error> parse_matcher(const json& v, const std::string& where, std::string_view kind) {
  if (!v.is_object()) return error(where + " must be an object with \"match\"");
  dialect::matcher m;
  for (const auto& [key, value] : v.items()) {
    const std::string at = where + "." + key;
    if (key == "match" || key == "expect") {
      if (!value.is_object() || value.empty())
        return error(at + " must be an object of JSON pointers and the values they must hold");
      for (const auto& [p, expected] : value.items()) {
        auto ptr = parse_pointer(json(p), at);
        if (!ptr) return ptr.error();
        (key == "match" ? m.match : m.expect).emplace_back(std::move(ptr.value()), expected);
      }
      if (key == "expect" && kind != "welcome") return error(at + ": only a welcome has \"expect\"");
      continue;
    }
    auto pointer_member = [&](std::optional<dialect::pointer>& slot, std::initializer_list<std::string_view> kinds)
        -> std::optional<error> {
      bool allowed = false;
      for (auto k : kinds) allowed = allowed || k == kind;
      if (!allowed) return error(at + ": a " + std::string(kind) + " matcher has no \"" + key + "\"");
      auto ptr = parse_pointer(value, at);
      if (!ptr) return ptr.error();
      slot = std::move(ptr.value());
      return std::nullopt;
    };
    std::optional<error> problem;
    if (key == "peer") problem = pointer_member(m.peer, {"welcome", "peer-joined"});
    else if (key == "peers") problem = pointer_member(m.peers, {"joined"});
    else if (key == "code") problem = pointer_member(m.code, {"error"});
    else if (key == "bench") problem = pointer_member(m.bench, {"relayed"});
    else if (key == "others") {
      if (kind != "joined") return error(at + ": only joined has \"others\"");
      if (value.is_string() && value.get_ref<const std::string&>() == "all") m.all_others = true;
      else if (value.is_number_unsigned()) m.others = value.get<std::uint64_t>();
      else return error(at + " must be a number of members or \"all\"");
    } else if (key == "description") {
      continue;
    } else {
      return error(where + ": unknown member \"" + key + "\"");
    }
    if (problem) return *problem;
  }
  if (m.match.empty()) return error(where + " needs \"match\": which messages are a " + std::string(kind));
  if (kind == "relayed" && !m.bench) return error(where + " needs \"bench\": the pointer to sigbench's object");
  if (kind == "joined" && m.peers && (m.others || m.all_others))
    return error(where + ": give \"peers\" (a list of ids) or \"others\" (a count), not both");
  return m;
}

result<std::vector<dialect::matcher>, error> parse_matchers(const json& v, const std::string& where,
                                                            std::string_view kind) {
  std::vector<dialect::matcher> out;
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      auto m = parse_matcher(v[i], where + "[" + std::to_string(i) + "]", kind);
      if (!m) return m.error();
      out.push_back(std::move(m.value()));
    }
    if (out.empty()) return error(where + " must not be empty");
    return out;
  }
  auto m = parse_matcher(v, where, kind);
  if (!m) return m.error();
  out.push_back(std::move(m.value()));
  return out;
}

// Whether `v` nests no deeper than `levels`; its own recursion is bounded by
// them, where dump()'s is not.
bool shallow(const json& v, int levels) {
  if (!v.is_structured()) return true;
  if (levels == 0) return false;
  for (const auto& e : v)
    if (!shallow(e, levels - 1)) return false;
  return true;
}

// A value the server sent, for a message: short, and never a dump() of
// hostile nesting (which would recurse once per level and exhaust the stack).
std::string describe(const json& v) {
  if (!shallow(v, 8)) return v.is_array() ? "a deeply nested array" : "a deeply nested object";
  auto text = v.dump();
  if (text.size() > 40) {
    // Cut on a character boundary: the text ends up in reports that must
    // stay valid UTF-8.
    std::size_t cut = 37;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

}  // namespace

// --- bench_tag --------------------------------------------------------------------

std::string bench_tag::to_json() const {
  std::string out = "{";
  if (seq) {
    out += "\"seq\":" + std::to_string(*seq) + ",\"t\":" + std::to_string(t_ns) + ",";
  }
  out += "\"room\":\"";
  append_escaped(out, room);
  out += bye ? "\",\"bye\":true}" : "\"}";
  return out;
}

std::optional<bench_tag> bench_tag::from_json(const json& v) {
  if (!v.is_object()) return std::nullopt;
  bench_tag tag;
  auto room_it = v.find("room");
  if (room_it == v.end() || !room_it->is_string()) return std::nullopt;
  tag.room = room_it->get<std::string>();
  if (auto bye = v.find("bye"); bye != v.end()) {
    if (!bye->is_boolean() || !bye->get<bool>() || v.contains("seq")) return std::nullopt;
    tag.bye = true;
    return tag;
  }
  auto seq = v.find("seq");
  auto t = v.find("t");
  if (seq == v.end() || !seq->is_number_unsigned() || t == v.end() || !t->is_number_integer()) return std::nullopt;
  tag.seq = seq->get<std::uint64_t>();
  tag.t_ns = t->get<std::int64_t>();
  return tag;
}

// --- pointers and matchers ------------------------------------------------------------

const json* dialect::pointer::find(const json& doc) const noexcept {
  const json* at = &doc;
  for (const auto& token : tokens) {
    if (at->is_object()) {
      auto it = at->find(token);
      if (it == at->end()) return nullptr;
      at = &*it;
    } else if (at->is_array()) {
      // RFC 6901 §4: an index is digits without leading zeros.
      if (token.empty() || token.size() > 9 || token.find_first_not_of("0123456789") != std::string::npos ||
          (token.size() > 1 && token[0] == '0'))
        return nullptr;
      auto i = std::stoul(token);
      if (i >= at->size()) return nullptr;
      at = &(*at)[i];
    } else {
      return nullptr;
    }
  }
  return at;
}

bool dialect::matcher::matches(const json& doc) const {
  for (const auto& [where, expected] : match) {
    const json* v = where.find(doc);
    if (!v) return false;
    if (expected.is_array()) {
      bool any = false;
      for (const auto& e : expected) any = any || *v == e;
      if (!any) return false;
    } else if (*v != expected) {
      return false;
    }
  }
  return true;
}

// --- loading ------------------------------------------------------------------------

std::span<const std::string_view> dialect::builtin_names() { return builtins; }

std::optional<std::string_view> dialect::builtin_definition(std::string_view name) {
  if (name == "sigkit") return sigkit_definition;
  if (name == "socketio-codelab") return codelab_definition;
  return std::nullopt;
}

result<dialect, std::string> dialect::load(const std::string& name_or_path) {
  if (auto builtin = builtin_definition(name_or_path)) return from_json(json::parse(*builtin), name_or_path);
  std::ifstream in(name_or_path);
  if (!in) {
    std::string known;
    for (auto n : builtins) known += (known.empty() ? "" : ", ") + std::string(n);
    return error("dialect '" + name_or_path + "' is neither built in (" + known + ") nor a readable file");
  }
  std::stringstream text;
  text << in.rdbuf();
  auto definition = json::parse(text.str(), nullptr, false, /*ignore_comments=*/true);
  if (definition.is_discarded()) return error("dialect file " + name_or_path + " is not valid JSON");
  return from_json(definition, name_or_path);
}

result<dialect, std::string> dialect::from_json(const json& d, const std::string& source) {
  const std::string where = "dialect " + source;
  if (!d.is_object()) return error(where + ": must be a JSON object");
  dialect out;
  out.name_ = source;
  const json* send = nullptr;
  const json* receive = nullptr;
  for (const auto& [key, value] : d.items()) {
    if (key == "name") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) return error(where + ": \"name\" must be a string");
      out.name_ = value.get<std::string>();
    } else if (key == "description") {
      if (!value.is_string()) return error(where + ": \"description\" must be a string");
    } else if (key == "framing") {
      auto f = value.is_string() ? value.get<std::string>() : "";
      if (f == "json") out.framing_ = framing::json;
      else if (f == "socket.io") out.framing_ = framing::socket_io;
      else return error(where + ": \"framing\" must be \"json\" or \"socket.io\", got " + describe(value));
    } else if (key == "send") {
      send = &value;
    } else if (key == "receive") {
      receive = &value;
    } else {
      return error(where + ": unknown member \"" + key + "\" (known: name, description, framing, send, receive)");
    }
  }
  if (!send || !send->is_object()) return error(where + ": needs \"send\", an object of message templates");
  if (!receive || !receive->is_object()) return error(where + ": needs \"receive\", an object of matchers");

  for (const auto& [key, value] : send->items()) {
    std::size_t k = 0;
    while (k < outbound_names.size() && outbound_names[k] != key) ++k;
    if (k == outbound_names.size())
      return error(where + ": send has no message \"" + key + "\" (known: join, offer, answer, candidate, leave, bye)");
    if (out.framing_ == framing::socket_io && (!value.is_array() || value.empty() || !value[0].is_string()))
      return error(where + ": send." + key + " must be a socket.io event, [\"name\", arguments...]");
    auto t = compile_template(value, where + ": send." + key);
    if (!t) return t.error();
    // A placeholder the message has nothing for would go out empty, or (the
    // bench object) as broken JSON: refuse it here.
    for (const auto& part : t->parts)
      if (part.hole != end && !(fillable[k] & (1u << part.hole)))
        return error(where + ": send." + key + " cannot use {{" + std::string(hole_name(static_cast<hole>(part.hole))) + "}}");
    out.templates_[k] = std::move(t.value());
  }
  for (auto required : {outbound_kind::join, outbound_kind::offer, outbound_kind::answer, outbound_kind::candidate})
    if (!out.templates_[static_cast<int>(required)].present)
      return error(where + ": send needs \"" + std::string(outbound_names[static_cast<int>(required)]) + "\"");
  for (auto relay : {outbound_kind::offer, outbound_kind::answer, outbound_kind::candidate, outbound_kind::bye}) {
    const auto& t = out.templates_[static_cast<int>(relay)];
    if (t.present && !uses(t, bench))
      return error(where + ": send." + std::string(outbound_names[static_cast<int>(relay)]) +
                   " needs \"{{bench}}\": it is how sigbench recognises its relays");
  }
  out.addresses_ = uses(out.templates_[static_cast<int>(outbound_kind::offer)], to);
  for (auto relay : {outbound_kind::answer, outbound_kind::candidate})
    if (uses(out.templates_[static_cast<int>(relay)], to) != out.addresses_)
      return error(where + ": send.offer, send.answer and send.candidate must all address a receiver ({{to}}) or none");

  for (const auto& [key, value] : receive->items()) {
    const std::string at = where + ": receive." + key;
    if (key == "joined" || key == "relayed") {
      auto ms = parse_matchers(value, at, key);
      if (!ms) return ms.error();
      (key == "joined" ? out.joined_ : out.relayed_) = std::move(ms.value());
    } else if (key == "welcome" || key == "peer-joined" || key == "full" || key == "error") {
      auto m = parse_matcher(value, at, key);
      if (!m) return m.error();
      if (key == "welcome") out.welcome_ = std::move(m.value());
      if (key == "peer-joined") out.peer_joined_ = std::move(m.value());
      if (key == "full") out.full_ = std::move(m.value());
      if (key == "error") out.error_ = std::move(m.value());
    } else {
      return error(where + ": receive has no \"" + key + "\" (known: welcome, joined, peer-joined, full, error, relayed)");
    }
  }
  if (out.joined_.empty()) return error(where + ": receive needs \"joined\": how a peer knows it is in the room");
  if (out.relayed_.empty()) return error(where + ": receive needs \"relayed\": how relays are recognised");
  if (out.welcome_ && out.framing_ == framing::socket_io)
    return error(where + ": with socket.io framing the welcome is socket.io's own connect; drop receive.welcome");
  if (out.addresses_) {
    for (const auto& m : out.joined_)
      if (!m.peers)
        return error(where + ": the relays are addressed ({{to}}), so every joined matcher needs \"peers\", "
                     "the list of member ids to address");
  }
  return out;
}

// --- writing ------------------------------------------------------------------------

bool dialect::waits_for_welcome() const noexcept { return welcome_.has_value() || framing_ == framing::socket_io; }

bool dialect::can_send(outbound_kind k) const noexcept { return templates_[static_cast<int>(k)].present; }

std::string dialect::encode(outbound_kind k, const fill& f) const {
  const auto& t = templates_[static_cast<int>(k)];
  std::string out;
  out.reserve(64 + f.sdp.size() + f.bench.size() + f.candidate.size());
  if (framing_ == framing::socket_io) out += "42";  // Engine.IO message, socket.io EVENT
  for (const auto& part : t.parts) {
    out += part.literal;
    switch (part.hole) {
      case end: break;
      case room: append_escaped(out, f.room); break;
      case self: append_escaped(out, f.self); break;
      case to: append_escaped(out, f.to); break;
      case sdp: append_escaped(out, f.sdp); break;
      case candidate: append_escaped(out, f.candidate); break;
      case bench: out += f.bench; break;
    }
  }
  return out;
}

// --- reading ------------------------------------------------------------------------

inbound dialect::decode(std::string_view frame) const {
  inbound in;
  if (framing_ == framing::socket_io) {
    // Engine.IO v4 packet types: 0 open, 1 close, 2 ping, 3 pong, 4 message,
    // 6 noop; a message carries a socket.io packet: 0 CONNECT, 1 DISCONNECT,
    // 2 EVENT, 3 ACK, 4 CONNECT_ERROR (socket.io protocol v5).
    if (frame.empty()) {
      in.what = inbound::kind::violation;
      in.why = "an empty Engine.IO packet";
      return in;
    }
    const char type = frame[0];
    auto rest = frame.substr(1);
    auto object_after = [&](std::string_view text, const char* what) -> std::optional<json> {
      auto j = json::parse(text, nullptr, false);
      if (j.is_discarded() || !j.is_object()) {
        in.what = inbound::kind::violation;
        in.why = std::string(what) + " is not a JSON object";
        return std::nullopt;
      }
      return j;
    };
    switch (type) {
      case '0': {  // open: {"sid", "pingInterval", ...}; connect to the main namespace
        if (!object_after(rest, "the Engine.IO open packet")) return in;
        in.what = inbound::kind::reply;
        in.reply = "40";
        return in;
      }
      case '2':  // ping: answer with pong and the same data
        in.what = inbound::kind::reply;
        in.reply = "3" + std::string(rest);
        return in;
      case '3':
      case '6': return in;
      case '1':
        in.what = inbound::kind::disconnect;
        in.why = "the server closed the Engine.IO session";
        return in;
      case '4': break;
      default:
        in.what = inbound::kind::violation;
        in.why = "not an Engine.IO packet";
        return in;
    }
    if (rest.empty()) {
      in.what = inbound::kind::violation;
      in.why = "an empty socket.io packet";
      return in;
    }
    const char packet = rest[0];
    auto body = rest.substr(1);
    if (!body.empty() && body[0] == '/') return in;  // another namespace: not ours
    switch (packet) {
      case '0': {  // CONNECT answered: {"sid": "..."}
        auto j = object_after(body, "socket.io's connect");
        if (!j) return in;
        auto sid = j->find("sid");
        if (sid == j->end() || !sid->is_string() || sid->get_ref<const std::string&>().empty()) {
          in.what = inbound::kind::violation;
          in.why = "socket.io's connect has no sid string";
          return in;
        }
        in.what = inbound::kind::welcome;
        in.peer = sid->get<std::string>();
        return in;
      }
      case '1':
        in.what = inbound::kind::disconnect;
        in.why = "the server disconnected the socket";
        return in;
      case '4': {
        in.what = inbound::kind::disconnect;
        auto j = json::parse(body, nullptr, false);
        auto message = j.is_object() && j.contains("message") && j["message"].is_string() ? j["message"].get<std::string>()
                                                                                          : std::string("no reason given");
        in.why = "socket.io refused the connection: " + message;
        return in;
      }
      case '2': {
        // An ack id may stand between the type and the array: 42 17 [...].
        std::size_t digits = 0;
        while (digits < body.size() && body[digits] >= '0' && body[digits] <= '9') ++digits;
        auto j = json::parse(body.substr(digits), nullptr, false);
        if (j.is_discarded() || !j.is_array() || j.empty() || !j[0].is_string()) {
          in.what = inbound::kind::violation;
          in.why = "a socket.io event that is not [\"name\", ...]";
          return in;
        }
        return classify(j);
      }
      default: return in;  // ACK, binary events: nothing sigbench sent asks for them
    }
  }
  auto j = json::parse(frame, nullptr, false);
  if (j.is_discarded()) {
    in.what = inbound::kind::violation;
    in.why = "a frame that is not JSON";
    return in;
  }
  return classify(j);
}

inbound dialect::classify(const json& doc) const {
  inbound in;
  auto violation = [&](std::string why) {
    in = inbound{};
    in.what = inbound::kind::violation;
    in.why = std::move(why);
    return in;
  };
  auto string_at = [&](const pointer& p, const char* kind, std::string& out) -> bool {
    const json* v = p.find(doc);
    if (!v || !v->is_string() || v->get_ref<const std::string&>().empty()) {
      violation(std::string(kind) + ": " + p.text + " is " + (v ? describe(*v) : std::string("missing")) +
                ", not a non-empty string");
      return false;
    }
    out = v->get<std::string>();
    return true;
  };

  if (welcome_ && welcome_->matches(doc)) {
    in.what = inbound::kind::welcome;
    for (const auto& [where, expected] : welcome_->expect) {
      const json* v = where.find(doc);
      if (!v || *v != expected)
        return violation("welcome: " + where.text + " is " + (v ? describe(*v) : std::string("missing")) +
                         ", not " + describe(expected));
    }
    if (welcome_->peer && !string_at(*welcome_->peer, "welcome", in.peer)) return in;
    return in;
  }
  for (const auto& m : joined_) {
    if (!m.matches(doc)) continue;
    in.what = inbound::kind::joined;
    if (m.peers) {
      const json* v = m.peers->find(doc);
      if (!v || !v->is_array()) return violation("joined: " + m.peers->text + " is " +
                                                 (v ? describe(*v) : std::string("missing")) + ", not a list of ids");
      for (const auto& id : *v) {
        if (!id.is_string()) return violation("joined: " + m.peers->text + " holds " + describe(id) + ", not an id string");
        in.peers.push_back(id.get<std::string>());
      }
      in.peers_listed = true;
    } else {
      in.others = m.others;
      in.room_complete = m.all_others;
    }
    return in;
  }
  if (peer_joined_ && peer_joined_->matches(doc)) {
    in.what = inbound::kind::peer_joined;
    if (peer_joined_->peer && !string_at(*peer_joined_->peer, "peer-joined", in.peer)) return in;
    return in;
  }
  if (full_ && full_->matches(doc)) {
    in.what = inbound::kind::full;
    return in;
  }
  if (error_ && error_->matches(doc)) {
    in.what = inbound::kind::error;
    in.code = "error";
    if (error_->code && !string_at(*error_->code, "error", in.code)) return in;
    return in;
  }
  for (const auto& m : relayed_) {
    if (!m.matches(doc)) continue;
    in.what = inbound::kind::relayed;
    if (const json* b = m.bench->find(doc)) in.tag = bench_tag::from_json(*b);
    return in;
  }
  return in;
}

}  // namespace sigkit::bench
