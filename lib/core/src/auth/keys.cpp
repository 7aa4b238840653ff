// Key loading (PEM, RFC 7517 JWK) and the three signature checks, on
// OpenSSL 3's EVP interface. Every OpenSSL call that can fail is bracketed by
// an error-queue mark, so a refused token or key leaves nothing behind in the
// thread's error queue for an unrelated TLS call to trip over later.
#include "sigkit/auth/keys.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "sigkit/auth/base64url.hpp"

namespace sigkit::auth {

namespace {

using json = nlohmann::json;

// Pops whatever OpenSSL queued since construction: refusals are values here,
// and the queue is per thread, shared with the server's TLS.
class error_queue_mark {
 public:
  error_queue_mark() noexcept { ERR_set_mark(); }
  ~error_queue_mark() { ERR_pop_to_mark(); }
  error_queue_mark(const error_queue_mark&) = delete;
  error_queue_mark& operator=(const error_queue_mark&) = delete;
};

struct bn_free {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using bignum = std::unique_ptr<BIGNUM, bn_free>;
struct md_ctx_free {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
struct pkey_ctx_free {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct bio_free {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct decoder_ctx_free {
  void operator()(OSSL_DECODER_CTX* p) const noexcept { OSSL_DECODER_CTX_free(p); }
};
struct param_bld_free {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct param_free {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct ecdsa_sig_free {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

// Largest RSA modulus OpenSSL will verify with (OPENSSL_RSA_MAX_MODULUS_BITS).
constexpr int max_rsa_bits = 16384;
// RFC 7518 §3.4: ES256's signature is R and S, 32 bytes each, big-endian.
constexpr std::size_t es256_coordinate_size = 32;

bool digest_verify(EVP_PKEY* pkey, bool rsa_pkcs1, std::string_view input, const unsigned char* sig,
                   std::size_t sig_len) noexcept {
  const std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) != 1) return false;
  // RFC 7518 §3.3: RSASSA-PKCS1-v1_5, stated rather than left to a default.
  if (rsa_pkcs1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig, sig_len, bytes(input), input.size()) == 1;
}

// RFC 7518 §3.4: JWS carries R || S; OpenSSL verifies the DER
// Ecdsa-Sig-Value of RFC 3279 §2.2.3. Only exactly 64 bytes are converted, so
// a DER signature in a token (70-72 bytes) never reaches OpenSSL's parser.
bool es256_verify(EVP_PKEY* pkey, std::string_view input, std::string_view sig) noexcept {
  if (sig.size() != 2 * es256_coordinate_size) return false;
  const std::unique_ptr<ECDSA_SIG, ecdsa_sig_free> ecdsa(ECDSA_SIG_new());
  if (!ecdsa) return false;
  BIGNUM* r = BN_bin2bn(bytes(sig), static_cast<int>(es256_coordinate_size), nullptr);
  BIGNUM* s = BN_bin2bn(bytes(sig) + es256_coordinate_size, static_cast<int>(es256_coordinate_size), nullptr);
  if (r == nullptr || s == nullptr || ECDSA_SIG_set0(ecdsa.get(), r, s) != 1) {  // set0 owns r, s on success
    BN_free(r);
    BN_free(s);
    return false;
  }
  std::array<unsigned char, 80> der{};  // at most 2 + 2 * (2 + 33) = 72 bytes
  unsigned char* out = der.data();
  const int der_len = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
  if (der_len <= 0 || static_cast<std::size_t>(der_len) > der.size() || i2d_ECDSA_SIG(ecdsa.get(), &out) != der_len)
    return false;
  return digest_verify(pkey, false, input, der.data(), static_cast<std::size_t>(der_len));
}

bool hs256_verify(std::string_view secret, std::string_view input, std::string_view sig) noexcept {
  if (sig.size() != 32) return false;  // the full SHA-256 output, never a truncated MAC
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes(input), input.size(), mac.data(),
           &mac_len) == nullptr ||
      mac_len != 32)
    return false;
  const bool same = CRYPTO_memcmp(mac.data(), sig.data(), 32) == 0;  // constant time
  OPENSSL_cleanse(mac.data(), mac.size());
  return same;
}

std::string quoted_kid(const std::optional<std::string>& kid) {
  if (!kid) return {};
  return " kid \"" + kid->substr(0, 64) + "\"";
}

// The kty a JWS algorithm name belongs to (RFC 7518 §3.1), empty if it is no
// JWS signature algorithm at all (a JWE one, or unknown).
std::string_view jws_family(std::string_view alg) noexcept {
  if (alg == "HS256" || alg == "HS384" || alg == "HS512") return "oct";
  if (alg == "RS256" || alg == "RS384" || alg == "RS512" || alg == "PS256" || alg == "PS384" || alg == "PS512")
    return "RSA";
  if (alg == "ES256" || alg == "ES384" || alg == "ES512" || alg == "ES256K") return "EC";
  if (alg == "EdDSA") return "OKP";
  if (alg == "none") return "none";
  return {};
}

// Why a JWK member could not be read (result<std::string, std::string>
// cannot tell its two sides apart).
struct member_error {
  std::string text;
};

// RFC 7518 §6.1: the one algorithm sigkit pins each key type to.
std::optional<algorithm> algorithm_for_kty(std::string_view kty) noexcept {
  if (kty == "oct") return algorithm::hs256;
  if (kty == "RSA") return algorithm::rs256;
  if (kty == "EC") return algorithm::es256;
  return std::nullopt;
}

// Decodes a JWK member holding base64url bytes.
result<std::string, member_error> jwk_bytes(const json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end()) return member_error{std::string("no \"") + name + "\""};
  if (!it->is_string()) return member_error{std::string("\"") + name + "\" is not a string"};
  auto decoded = base64url_decode(it->get_ref<const std::string&>());
  if (!decoded) return member_error{std::string("\"") + name + "\" is not unpadded base64url"};
  return std::move(*decoded);
}

using pkey_ptr = std::unique_ptr<evp_pkey_st, pkey_free>;

// A key as loaded, before it becomes a verification_key.
struct loaded_key {
  algorithm alg;
  std::string secret;
  pkey_ptr pkey;
};

// Checks an RSA public key's numbers the way RFC 7518 §3.3 and RSA itself
// ask: n odd and 2048 to 16384 bits, e odd and at least 3.
result<algorithm, std::string> check_rsa(const BIGNUM* n, const BIGNUM* e) {
  const int bits = BN_num_bits(n);
  if (bits < min_rsa_bits)
    return "an RSA key of " + std::to_string(bits) + " bits; RS256 needs at least 2048 (RFC 7518 §3.3)";
  if (bits > max_rsa_bits) return "an RSA key of " + std::to_string(bits) + " bits; OpenSSL verifies at most 16384";
  if (!BN_is_odd(n)) return std::string("an RSA modulus that is even: not an RSA key");
  if (!BN_is_odd(e) || BN_num_bits(e) < 2) return std::string("an RSA public exponent that is even or 1");
  return algorithm::rs256;
}

// Which algorithm a decoded public key is for, or why it is refused.
result<algorithm, std::string> classify(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    const bool got = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
                     EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1;
    const bignum owned_n(n), owned_e(e);
    if (!got) return std::string("an RSA key whose modulus and exponent cannot be read");
    return check_rsa(n, e);
  }
  if (EVP_PKEY_is_a(pkey, "RSA-PSS"))
    return std::string("an RSA-PSS key; RS256 (PKCS#1 v1.5) needs a plain RSA key");
  if (EVP_PKEY_is_a(pkey, "EC")) {
    std::array<char, 80> name{};
    std::size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, name.data(), name.size(), &len) != 1)
      return std::string("an EC key with explicit curve parameters; ES256 needs the named curve P-256");
    if (OBJ_txt2nid(name.data()) != NID_X9_62_prime256v1)
      return "an EC key on " + std::string(name.data()) + "; ES256 needs P-256 (RFC 7518 §3.4)";
    // The point must be on the curve and not the identity (SEC 1 §3.2.2.1).
    const std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!ctx || EVP_PKEY_public_check(ctx.get()) != 1)
      return std::string("an EC public key that is not a valid P-256 point");
    return algorithm::es256;
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return std::string("a ") + (type != nullptr ? type : "non-RSA, non-EC") +
         " key; sigkit verifies RSA (RS256) and P-256 (ES256) public keys";
}

result<loaded_key, std::string> load_pem(std::string_view pem) {
  constexpr std::string_view begin = "-----BEGIN ";
  const auto at = pem.find(begin);
  if (at == std::string_view::npos) return std::string("no PEM block (expected -----BEGIN PUBLIC KEY-----)");
  const auto label_at = at + begin.size();
  const auto label_end = pem.find("-----", label_at);
  if (label_end == std::string_view::npos) return std::string("a PEM header without its closing dashes");
  const auto label = pem.substr(label_at, label_end - label_at);
  if (label.find("PRIVATE KEY") != std::string_view::npos)
    return std::string("a private key; give its public half (openssl pkey -in key.pem -pubout)");
  if (label == "CERTIFICATE")
    return std::string("a certificate; give its public key (openssl x509 -in cert.pem -pubkey -noout)");
  if (label != "PUBLIC KEY" && label != "RSA PUBLIC KEY")
    return "a PEM \"" + std::string(label.substr(0, 40)) + "\" block; expected PUBLIC KEY";
  if (pem.find(begin, label_end) != std::string_view::npos)
    return std::string("more than one PEM block; give several keys as a JWK Set");

  EVP_PKEY* raw = nullptr;
  const std::unique_ptr<OSSL_DECODER_CTX, decoder_ctx_free> dctx(
      OSSL_DECODER_CTX_new_for_pkey(&raw, "PEM", nullptr, nullptr, EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  const unsigned char* data = bytes(pem);
  std::size_t len = pem.size();
  if (!dctx || OSSL_DECODER_from_data(dctx.get(), &data, &len) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return std::string("not a readable PEM public key");
  }
  pkey_ptr pkey(raw);
  auto alg = classify(pkey.get());
  if (!alg) return alg.error();
  return loaded_key{*alg, {}, std::move(pkey)};
}

result<pkey_ptr, std::string> pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  const std::unique_ptr<OSSL_PARAM, param_free> params(OSSL_PARAM_BLD_to_param(bld));
  const std::unique_ptr<EVP_PKEY_CTX, pkey_ctx_free> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || raw == nullptr) {
    EVP_PKEY_free(raw);
    return std::string("OpenSSL refused the key's parameters");
  }
  return pkey_ptr(raw);
}

// RFC 7518 §6.3.1: the public members of an RSA JWK.
result<loaded_key, std::string> load_rsa_jwk(const json& jwk) {
  auto n = jwk_bytes(jwk, "n");
  if (!n) return n.error().text;
  auto e = jwk_bytes(jwk, "e");
  if (!e) return e.error().text;
  const bignum bn_n(BN_bin2bn(bytes(*n), static_cast<int>(n->size()), nullptr));
  const bignum bn_e(BN_bin2bn(bytes(*e), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) return std::string("out of memory");
  auto checked = check_rsa(bn_n.get(), bn_e.get());
  if (!checked) return checked.error();
  const std::unique_ptr<OSSL_PARAM_BLD, param_bld_free> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
    return std::string("out of memory");
  auto pkey = pkey_from_params("RSA", bld.get());
  if (!pkey) return pkey.error();
  return loaded_key{algorithm::rs256, {}, std::move(*pkey)};
}

// RFC 7518 §6.2.1: x and y are the full 32 bytes each for P-256.
result<loaded_key, std::string> load_p256_jwk(const json& jwk) {
  auto x = jwk_bytes(jwk, "x");
  if (!x) return x.error().text;
  auto y = jwk_bytes(jwk, "y");
  if (!y) return y.error().text;
  if (x->size() != es256_coordinate_size || y->size() != es256_coordinate_size)
    return std::string("\"x\" and \"y\" must be 32 bytes each on P-256 (RFC 7518 §6.2.1.2)");
  const std::string point = std::string(1, '\x04') + *x + *y;  // SEC 1 §2.3.3, uncompressed
  const std::unique_ptr<OSSL_PARAM_BLD, param_bld_free> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
    return std::string("out of memory");
  auto pkey = pkey_from_params("EC", bld.get());
  if (!pkey) return std::string("\"x\", \"y\" are not a point on P-256");
  auto alg = classify(pkey->get());
  if (!alg) return alg.error();
  return loaded_key{algorithm::es256, {}, std::move(*pkey)};
}

// One JWK: a key, or the reason it is skipped (key empty), or an error.
struct jwk_outcome {
  std::optional<loaded_key> key;
  std::string skipped;
};

result<jwk_outcome, std::string> load_jwk(const json& jwk) {
  if (!jwk.is_object()) return std::string("not a JSON object");
  const auto kty_it = jwk.find("kty");
  if (kty_it == jwk.end() || !kty_it->is_string()) return std::string("no \"kty\" string");
  const auto& kty = kty_it->get_ref<const std::string&>();

  // RFC 7517 §4.2, §4.3: keys meant for encryption are not ours to use.
  if (const auto use = jwk.find("use"); use != jwk.end()) {
    if (!use->is_string()) return std::string("\"use\" is not a string");
    if (*use != "sig") return jwk_outcome{std::nullopt, "\"use\":\"" + use->get<std::string>().substr(0, 20) + "\""};
  }
  if (const auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array() || !std::all_of(ops->begin(), ops->end(), [](const json& o) { return o.is_string(); }))
      return std::string("\"key_ops\" is not an array of strings");
    if (std::find(ops->begin(), ops->end(), json("verify")) == ops->end())
      return jwk_outcome{std::nullopt, "\"key_ops\" without \"verify\""};
  }

  const auto expected = algorithm_for_kty(kty);
  if (const auto alg = jwk.find("alg"); alg != jwk.end()) {
    if (!alg->is_string()) return std::string("\"alg\" is not a string");
    const auto& name = alg->get_ref<const std::string&>();
    const auto family = jws_family(name);
    if (!family.empty() && family != kty)
      return "\"alg\":\"" + name + "\" does not fit \"kty\":\"" + kty.substr(0, 20) + "\"";
    if (!expected || name != to_string(*expected))
      return jwk_outcome{std::nullopt, "\"alg\":\"" + name.substr(0, 20) + "\" is not one sigkit verifies"};
  }
  if (!expected) return jwk_outcome{std::nullopt, "\"kty\":\"" + kty.substr(0, 20) + "\" is not one sigkit verifies"};

  switch (*expected) {
    case algorithm::hs256: {
      auto k = jwk_bytes(jwk, "k");
      if (!k) return k.error().text;
      if (k->size() < min_hs256_secret_size) {
        const auto size = k->size();
        OPENSSL_cleanse(k->data(), k->size());
        return "an HS256 key of " + std::to_string(size) + " bytes; RFC 7518 §3.2 requires at least 32";
      }
      return jwk_outcome{loaded_key{algorithm::hs256, std::move(*k), nullptr}, {}};
    }
    case algorithm::rs256: {
      auto key = load_rsa_jwk(jwk);
      if (!key) return key.error();
      return jwk_outcome{std::move(*key), {}};
    }
    case algorithm::es256: {
      const auto crv = jwk.find("crv");
      if (crv == jwk.end() || !crv->is_string()) return std::string("no \"crv\" string");
      if (*crv != "P-256") {
        if (jwk.contains("alg")) return std::string("\"alg\":\"ES256\" needs \"crv\":\"P-256\"");
        return jwk_outcome{std::nullopt,
                           "\"crv\":\"" + crv->get<std::string>().substr(0, 20) + "\" is not one sigkit verifies"};
      }
      auto key = load_p256_jwk(jwk);
      if (!key) return key.error();
      return jwk_outcome{std::move(*key), {}};
    }
  }
  return std::string("unreachable");
}

// The first kid that appears twice, if any.
std::optional<std::string> duplicate_kid(std::span<const verification_key> keys) {
  std::set<std::string_view> seen;
  for (const auto& k : keys)
    if (k.kid() && !seen.insert(*k.kid()).second) return *k.kid();
  return std::nullopt;
}

}  // namespace

void pkey_free::operator()(evp_pkey_st* p) const noexcept { EVP_PKEY_free(p); }

std::string_view to_string(algorithm a) noexcept {
  switch (a) {
    case algorithm::hs256: return "HS256";
    case algorithm::rs256: return "RS256";
    case algorithm::es256: return "ES256";
  }
  return "?";
}

std::optional<algorithm> algorithm_from_string(std::string_view name) noexcept {
  if (name == "HS256") return algorithm::hs256;
  if (name == "RS256") return algorithm::rs256;
  if (name == "ES256") return algorithm::es256;
  return std::nullopt;
}

verification_key::verification_key(algorithm alg, std::optional<std::string> kid, std::string secret,
                                   std::unique_ptr<evp_pkey_st, pkey_free> pkey) noexcept
    : alg_(alg), kid_(std::move(kid)), secret_(std::move(secret)), pkey_(std::move(pkey)) {}

verification_key::verification_key(verification_key&& other) noexcept
    : alg_(other.alg_),
      kid_(std::move(other.kid_)),
      secret_(std::move(other.secret_)),
      pkey_(std::move(other.pkey_)) {
  other.wipe();
}

verification_key& verification_key::operator=(verification_key&& other) noexcept {
  if (this != &other) {
    // Wiped first: std::string's move assignment may hand our old buffer to `other`.
    wipe();
    alg_ = other.alg_;
    kid_ = std::move(other.kid_);
    secret_ = std::move(other.secret_);
    pkey_ = std::move(other.pkey_);
    other.wipe();
  }
  return *this;
}

verification_key::~verification_key() { wipe(); }

void verification_key::wipe() noexcept {
  if (!secret_.empty()) OPENSSL_cleanse(secret_.data(), secret_.size());
  secret_.clear();
}

std::string verification_key::description() const {
  std::string out(to_string(alg_));
  switch (alg_) {
    case algorithm::hs256: out += " (secret of " + std::to_string(secret_.size()) + " bytes)"; break;
    case algorithm::rs256:
      out += " (RSA " + std::to_string(pkey_ ? EVP_PKEY_get_bits(pkey_.get()) : 0) + " bits)";
      break;
    case algorithm::es256: out += " (P-256)"; break;
  }
  return out + quoted_kid(kid_);
}

bool verification_key::verifies(std::string_view signing_input, std::string_view signature) const noexcept {
  const error_queue_mark mark;
  switch (alg_) {
    case algorithm::hs256: return hs256_verify(secret_, signing_input, signature);
    case algorithm::rs256:
      // RFC 8017 §8.2.2: the signature is exactly as long as the modulus.
      return pkey_ && signature.size() == static_cast<std::size_t>(EVP_PKEY_get_size(pkey_.get())) &&
             digest_verify(pkey_.get(), true, signing_input, bytes(signature), signature.size());
    case algorithm::es256: return pkey_ && es256_verify(pkey_.get(), signing_input, signature);
  }
  return false;
}

result<key_set, std::string> key_set::hs256_secret(std::string secret, std::optional<std::string> kid) {
  if (secret.size() < min_hs256_secret_size) {
    const auto size = secret.size();
    OPENSSL_cleanse(secret.data(), secret.size());
    return "the HS256 secret is " + std::to_string(size) +
           " bytes; RFC 7518 §3.2 requires at least 32 (e.g. `openssl rand -base64 32`)";
  }
  key_set set;
  set.keys_.push_back(verification_key(algorithm::hs256, std::move(kid), std::move(secret), nullptr));
  return set;
}

result<key_set, std::string> key_set::public_key_pem(std::string_view pem, std::optional<std::string> kid) {
  const error_queue_mark mark;
  auto loaded = load_pem(pem);
  if (!loaded) return loaded.error();
  key_set set;
  set.keys_.push_back(verification_key(loaded->alg, std::move(kid), {}, std::move(loaded->pkey)));
  return set;
}

result<key_set, std::string> key_set::jwks(std::string_view text) {
  const error_queue_mark mark;
  try {
    const auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded()) return std::string("not valid JSON");
    if (!doc.is_object()) return std::string("not a JWK Set (a JSON object with \"keys\") nor a JWK");
    const json* list = nullptr;
    json single = json::array();
    if (const auto it = doc.find("keys"); it != doc.end()) {
      if (!it->is_array()) return std::string("\"keys\" is not an array");
      list = &*it;
    } else if (doc.contains("kty")) {
      single.push_back(doc);
      list = &single;
    } else {
      return std::string("not a JWK Set (a JSON object with \"keys\") nor a JWK");
    }

    key_set set;
    std::size_t index = 0;
    for (const auto& jwk : *list) {
      ++index;
      std::optional<std::string> kid;
      if (jwk.is_object()) {
        if (const auto k = jwk.find("kid"); k != jwk.end()) {
          if (!k->is_string()) return "key " + std::to_string(index) + ": \"kid\" is not a string";
          kid = k->get<std::string>();
        }
      }
      const auto where = "key " + std::to_string(index) + quoted_kid(kid);
      auto outcome = load_jwk(jwk);
      if (!outcome) return where + ": " + outcome.error();
      if (!outcome->key) {
        set.skipped_.push_back(where + ": " + outcome->skipped);
        continue;
      }
      auto& key = *outcome->key;
      set.keys_.push_back(verification_key(key.alg, std::move(kid), std::move(key.secret), std::move(key.pkey)));
    }
    if (set.keys_.empty())
      return set.skipped_.empty() ? std::string("no keys")
                                  : "no key sigkit can verify with (" + set.skipped_.front() + ")";
    if (const auto dup = duplicate_kid(set.keys_)) return "two keys share kid \"" + *dup + "\"";
    return set;
  } catch (const json::exception&) {
    return std::string("not a usable JWK Set");  // a type the checks above missed; never expected
  }
}

result<key_set, std::string> key_set::merge(key_set a, key_set b) {
  for (auto& k : b.keys_) a.keys_.push_back(std::move(k));
  for (auto& s : b.skipped_) a.skipped_.push_back(std::move(s));
  if (const auto dup = duplicate_kid(a.keys_)) return "two keys share kid \"" + *dup + "\"";
  return a;
}

}  // namespace sigkit::auth
