// Compact JWS parsing and JWT claim checks. The order matters: nothing of
// the claims is parsed until a key pinned to the token's algorithm has
// verified the signature, and the header is read only as far as choosing
// that key needs.
#include "sigkit/auth/jwt.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <nlohmann/json.hpp>

#include "sigkit/auth/base64url.hpp"

namespace sigkit::auth {

namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, token_error_count> labels{
    "missing",         "malformed",         "unsupported_algorithm", "algorithm_mismatch", "unknown_key",
    "bad_signature",   "critical_header",   "missing_expiry",        "expired",            "not_yet_valid",
    "issued_in_future", "wrong_issuer",     "wrong_audience",        "missing_subject",    "bad_claims"};
static_assert(static_cast<std::size_t>(token_error::bad_claims) + 1 == token_error_count);

// A JSON object, or nothing when the text is not one or repeats a member
// name at any depth. RFC 7515 §5.2 and RFC 7519 §4 let a parser keep the last
// duplicate instead, but then two parsers of the same token can disagree
// about its `alg` or `sub`; refusing is the safe reading. For the same
// reason, what nlohmann::json would otherwise forgive is refused: a byte
// order mark (which it skips) and a NUL byte (where it stops reading, so
// `{"alg":"HS256"}\0anything` would parse).
std::optional<json> parse_object(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF") || text.find('\0') != std::string_view::npos) return std::nullopt;
  std::vector<std::size_t> names;  // member names seen, per object still open
  bool duplicate = false;
  const json::parser_callback_t count = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start: names.push_back(0); break;
      case json::parse_event_t::key:
        if (!names.empty()) ++names.back();
        break;
      case json::parse_event_t::object_end:
        // A repeated name overwrote an earlier member, so the object came out smaller.
        if (!names.empty()) {
          if (parsed.size() != names.back()) duplicate = true;
          names.pop_back();
        }
        break;
      default: break;
    }
    return true;
  };
  json doc = json::parse(text.begin(), text.end(), count, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || duplicate) return std::nullopt;
  return doc;
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<std::int64_t>::max() : std::numeric_limits<std::int64_t>::min();
  return r;
}

// RFC 7519 §2 NumericDate: seconds, possibly fractional; floored here and
// clamped to the 64-bit range. Not a number (a string, a bool, null): nothing.
std::optional<std::int64_t> numeric_date(const json& v) noexcept {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(max) ? max : static_cast<std::int64_t>(u);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_number_float()) {
    const double d = std::floor(v.get<double>());
    if (std::isnan(d)) return std::nullopt;  // JSON has no NaN; kept for safety
    if (d >= 9223372036854775808.0) return max;
    if (d < -9223372036854775808.0) return min;
    return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<std::vector<std::string>> string_array(const json& v) {
  if (!v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(v.size());
  for (const auto& e : v) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

// RFC 7519 §4.1: types and required claims first (a token that can never be
// valid says so whatever the clock), then time, issuer, audience.
result<claims, token_error> read_claims(const json& c, const verify_options& options, std::int64_t now) {
  claims out;
  const auto exp = c.find("exp");
  if (exp == c.end()) return token_error::missing_expiry;
  const auto exp_value = numeric_date(*exp);
  if (!exp_value) return token_error::bad_claims;
  out.exp = *exp_value;
  for (auto [name, field] : {std::pair{"nbf", &out.nbf}, std::pair{"iat", &out.iat}}) {
    const auto it = c.find(name);
    if (it == c.end()) continue;
    *field = numeric_date(*it);
    if (!*field) return token_error::bad_claims;
  }
  if (const auto iss = c.find("iss"); iss != c.end()) {
    if (!iss->is_string()) return token_error::bad_claims;
    out.iss = iss->get<std::string>();
  }
  if (const auto aud = c.find("aud"); aud != c.end()) {
    // RFC 7519 §4.1.3: one string or an array of strings.
    if (aud->is_string()) {
      out.aud.push_back(aud->get<std::string>());
    } else {
      auto list = string_array(*aud);
      if (!list) return token_error::bad_claims;
      out.aud = std::move(*list);
    }
  }
  const auto sub = c.find("sub");
  if (sub == c.end()) return token_error::missing_subject;
  if (!sub->is_string()) return token_error::bad_claims;
  out.sub = sub->get<std::string>();
  if (out.sub.empty()) return token_error::missing_subject;
  if (const auto rooms = c.find("rooms"); rooms != c.end()) {
    out.rooms = string_array(*rooms);
    if (!out.rooms) return token_error::bad_claims;
  }

  // RFC 7519 §4.1.4, §4.1.5, §4.1.6, with the configured clock skew.
  const std::int64_t leeway = std::max<std::int64_t>(0, options.leeway.count());
  if (out.exp <= saturating_add(now, -leeway)) return token_error::expired;
  if (out.nbf && *out.nbf > saturating_add(now, leeway)) return token_error::not_yet_valid;
  if (out.iat && *out.iat > saturating_add(now, leeway)) return token_error::issued_in_future;

  if (options.issuer && out.iss != options.issuer) return token_error::wrong_issuer;
  if (options.audience && std::find(out.aud.begin(), out.aud.end(), *options.audience) == out.aud.end())
    return token_error::wrong_audience;
  return out;
}

// The keys a token may be verified with, or why there are none.
struct candidates {
  std::array<const verification_key*, max_keys_tried> keys{};
  std::size_t count = 0;
  bool add(const verification_key& k) noexcept {
    if (count == keys.size()) return false;
    keys[count++] = &k;
    return true;
  }
};

std::optional<token_error> choose_keys(const key_set& set, algorithm alg, const std::optional<std::string>& kid,
                                       candidates& out) {
  if (set.empty()) return token_error::unknown_key;
  bool named = false;  // some key carries the token's kid
  if (kid) {
    for (const auto& k : set.keys()) {
      if (k.kid() != kid) continue;
      named = true;
      if (k.alg() == alg && !out.add(k)) return token_error::unknown_key;
    }
    if (named) return out.count == 0 ? std::optional(token_error::algorithm_mismatch) : std::nullopt;
  }
  // No kid, or one no key carries. A key loaded without a kid (a lone secret
  // or PEM key) serves every token of its algorithm; a key with a kid serves
  // only tokens naming it, unless the token names none.
  bool kidless = false;
  for (const auto& k : set.keys()) {
    if (kid && k.kid()) continue;
    kidless = kidless || !k.kid();
    if (k.alg() == alg && !out.add(k)) return token_error::unknown_key;
  }
  if (kid && !kidless) return token_error::unknown_key;
  if (out.count == 0) return token_error::algorithm_mismatch;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(token_error e) noexcept {
  const auto i = static_cast<std::size_t>(e);
  return i < labels.size() ? labels[i] : "?";
}

result<claims, token_error> verify(std::string_view token, const key_set& keys, const verify_options& options,
                                   std::int64_t now) {
  if (token.empty()) return token_error::missing;
  if (token.size() > max_token_size) return token_error::malformed;

  // RFC 7515 §7.1: exactly three parts. Five (JWE) or two are not ours.
  const auto dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return token_error::malformed;
  const auto dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return token_error::malformed;
  const auto header_part = token.substr(0, dot1);
  const auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature_part = token.substr(dot2 + 1);
  if (header_part.empty() || payload_part.empty()) return token_error::malformed;

  const auto header_text = base64url_decode(header_part);
  if (!header_text) return token_error::malformed;
  const auto header = parse_object(*header_text);
  if (!header) return token_error::malformed;

  // RFC 7515 §4.1.1: `alg` is required and case-sensitive.
  const auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return token_error::malformed;
  const auto alg = algorithm_from_string(alg_it->get_ref<const std::string&>());
  if (!alg) return token_error::unsupported_algorithm;
  // RFC 7515 §4.1.11: a recipient that does not understand a critical
  // extension must refuse the token; sigkit understands none, and `b64`
  // (RFC 7797) only ever appears as one.
  if (header->contains("crit") || header->contains("b64")) return token_error::critical_header;
  std::optional<std::string> kid;
  if (const auto k = header->find("kid"); k != header->end()) {
    if (!k->is_string()) return token_error::malformed;
    kid = k->get<std::string>();
  }

  const auto payload_text = base64url_decode(payload_part);
  if (!payload_text) return token_error::malformed;
  if (signature_part.empty()) return token_error::malformed;
  const auto signature = base64url_decode(signature_part);
  if (!signature) return token_error::malformed;

  candidates chosen;
  if (const auto refused = choose_keys(keys, *alg, kid, chosen)) return *refused;
  // RFC 7515 §5.2 step 8: the signing input is the text as received.
  const auto signing_input = token.substr(0, dot2);
  const auto tried = std::span(chosen.keys).first(chosen.count);
  const bool verified = std::any_of(tried.begin(), tried.end(), [&](const verification_key* k) {
    return k->verifies(signing_input, *signature);
  });
  if (!verified) return token_error::bad_signature;

  const auto payload = parse_object(*payload_text);
  if (!payload) return token_error::bad_claims;
  try {
    return read_claims(*payload, options, now);
  } catch (const json::exception&) {
    return token_error::bad_claims;  // a type check above missed a case; never expected
  }
}

bool room_allowed(const claims& c, std::string_view room) noexcept {
  if (!c.rooms) return true;
  return std::any_of(c.rooms->begin(), c.rooms->end(), [room](std::string_view entry) {
    if (!entry.empty() && entry.back() == '*') return room.starts_with(entry.substr(0, entry.size() - 1));
    return room == entry;
  });
}

}  // namespace sigkit::auth
