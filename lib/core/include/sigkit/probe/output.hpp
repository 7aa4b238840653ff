// sigprobe's output: a block of text per server for people, one JSON
// document for scripts (schema in docs/sigprobe.md). Pure rendering.
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "sigkit/probe/probe.hpp"

namespace sigkit::probe {

//   {"ok": bool, "ms": n,
//    "signaling": {"url", "ok", "ms", "server", "peer", ..., "error"} or absent,
//    "servers": [{"uri", "ok", "ms", "checks": [{"name", "ok", "ms", ...facts,
//                 "warnings": [...], "error": {"kind", "code", "reason", "hint"}}]}],
//    "nat": {"ok", "status", ...} or absent}
nlohmann::ordered_json to_json(const report& r);

// The signaling server's block (--from-sigserve), one block per server, a ✓
// or ✗ line per stage, hints under failures; the NAT block; a summary.
void write_text(std::ostream& out, const report& r);

}  // namespace sigkit::probe
