// Self-signed certificates for TLS tests, made by the `openssl` command in a
// temporary directory and removed with the object. A self-signed
// certificate is its own CA, so its file is what a client's --ca-file takes.
#pragma once

#include <string>

namespace sigkit::test {

class test_certificate {
 public:
  // `subject_alt_names` in openssl's syntax, e.g. "IP:127.0.0.1,DNS:localhost".
  explicit test_certificate(const std::string& subject_alt_names = "IP:127.0.0.1,IP:::1,DNS:localhost");
  ~test_certificate();
  test_certificate(const test_certificate&) = delete;
  test_certificate& operator=(const test_certificate&) = delete;

  const std::string& cert_path() const { return cert_path_; }  // PEM certificate
  const std::string& key_path() const { return key_path_; }    // PEM private key, unencrypted

 private:
  std::string dir_;
  std::string cert_path_;
  std::string key_path_;
};

}  // namespace sigkit::test
