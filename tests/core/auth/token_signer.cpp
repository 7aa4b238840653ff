#include "token_signer.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <vector>

#include "sigkit/auth/base64url.hpp"

namespace sigkit::auth::test {

namespace {

// Test set-up failures are programming errors: throw, Catch2 reports them.
void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test signer: ") + what);
}

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string bn_bytes(EVP_PKEY* key, const char* name, std::size_t pad_to = 0) {
  BIGNUM* bn = nullptr;
  require(EVP_PKEY_get_bn_param(key, name, &bn) == 1, "get_bn_param");
  std::string out(std::max<std::size_t>(pad_to, static_cast<std::size_t>(BN_num_bytes(bn))), '\0');
  auto* to = reinterpret_cast<unsigned char*>(out.data());
  require(BN_bn2binpad(bn, to, static_cast<int>(out.size())) > 0, "bn2binpad");
  BN_free(bn);
  return out;
}

std::string digest_sign(EVP_PKEY* key, std::string_view input, bool rsa) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  require(EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key) == 1, "DigestSignInit");
  if (rsa) require(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1, "padding");
  std::size_t len = 0;
  require(EVP_DigestSign(ctx, nullptr, &len, bytes(input), input.size()) == 1, "DigestSign size");
  std::string sig(len, '\0');
  require(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, bytes(input), input.size()) == 1,
          "DigestSign");
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  return sig;
}

}  // namespace

private_key generate(const char* type, const char* param) {
  EVP_PKEY* key = nullptr;
  if (std::string_view(type) == "RSA")
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(std::stoul(param)));
  else if (std::string_view(type) == "EC")
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", param);
  else
    key = EVP_PKEY_Q_keygen(nullptr, nullptr, type);
  require(key != nullptr, "keygen");
  return private_key(key);
}

EVP_PKEY* rsa_key() {
  static const private_key k = generate("RSA", "2048");
  return k.get();
}
EVP_PKEY* other_rsa_key() {
  static const private_key k = generate("RSA", "2048");
  return k.get();
}
EVP_PKEY* p256_key() {
  static const private_key k = generate("EC", "P-256");
  return k.get();
}
EVP_PKEY* other_p256_key() {
  static const private_key k = generate("EC", "P-256");
  return k.get();
}

std::string public_pem(EVP_PKEY* key, bool pkcs1) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (pkcs1) {
    OSSL_ENCODER_CTX* ctx = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", nullptr);
    require(ctx != nullptr && OSSL_ENCODER_to_bio(ctx, bio) == 1, "PKCS#1 encoder");
    OSSL_ENCODER_CTX_free(ctx);
  } else {
    require(PEM_write_bio_PUBKEY(bio, key) == 1, "PEM_write_bio_PUBKEY");
  }
  std::string out = bio_text(bio);
  BIO_free(bio);
  return out;
}

std::string private_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  require(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM_write_bio_PrivateKey");
  std::string out = bio_text(bio);
  BIO_free(bio);
  return out;
}

std::string public_jwk(EVP_PKEY* key, std::optional<std::string> kid, std::optional<std::string> alg) {
  nlohmann::json j;
  if (EVP_PKEY_is_a(key, "RSA")) {
    j["kty"] = "RSA";
    j["n"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_N));
    j["e"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_RSA_E));
  } else {
    j["kty"] = "EC";
    j["crv"] = "P-256";
    j["x"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    j["y"] = base64url_encode(bn_bytes(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
  }
  if (kid) j["kid"] = *kid;
  if (alg) j["alg"] = *alg;
  return j.dump();
}

std::string secret_jwk(std::string_view secret, std::optional<std::string> kid) {
  nlohmann::json j{{"kty", "oct"}, {"k", base64url_encode(secret)}};
  if (kid) j["kid"] = *kid;
  return j.dump();
}

std::string hs256(std::string_view secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  require(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes(input), input.size(), mac, &len) !=
              nullptr,
          "HMAC");
  return std::string(reinterpret_cast<const char*>(mac), len);
}

std::string rs256(EVP_PKEY* key, std::string_view input) { return digest_sign(key, input, true); }

std::string es256(EVP_PKEY* key, std::string_view input, bool der) {
  const std::string der_sig = digest_sign(key, input, false);
  if (der) return der_sig;
  const auto* p = bytes(der_sig);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_sig.size()));
  require(sig != nullptr, "d2i_ECDSA_SIG");
  std::string out(64, '\0');
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  require(BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, 32) == 32 && BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + 32, 32) == 32,
          "R || S");
  ECDSA_SIG_free(sig);
  return out;
}

std::string signing_input(std::string_view header_json, std::string_view payload_json) {
  return base64url_encode(header_json) + "." + base64url_encode(payload_json);
}

std::string compact(std::string_view input, std::string_view signature) {
  return std::string(input) + "." + base64url_encode(signature);
}

std::string hs256_token(std::string_view header_json, std::string_view payload_json, std::string_view secret) {
  const auto input = signing_input(header_json, payload_json);
  return compact(input, hs256(secret, input));
}

std::string rs256_token(std::string_view header_json, std::string_view payload_json, EVP_PKEY* key) {
  const auto input = signing_input(header_json, payload_json);
  return compact(input, rs256(key, input));
}

std::string es256_token(std::string_view header_json, std::string_view payload_json, EVP_PKEY* key) {
  const auto input = signing_input(header_json, payload_json);
  return compact(input, es256(key, input));
}

}  // namespace sigkit::auth::test
