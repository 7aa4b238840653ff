#include "test_certificate.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace sigkit::test {

test_certificate::test_certificate(const std::string& subject_alt_names) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "sigkit-cert-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  cert_path_ = dir_ + "/cert.pem";
  key_path_ = dir_ + "/key.pem";
  const std::string log_path = dir_ + "/openssl.log";

  // P-256 keeps generation fast; the names go in subjectAltName, which is
  // all that RFC 6125 verification reads.
  std::vector<std::string> args{"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key_path_, "-out", cert_path_,
                                "-days", "30", "-subj", "/CN=sigkit test", "-addext",
                                "subjectAltName=" + subject_alt_names};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, "openssl", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (rc == 0) waitpid(pid, &status, 0);
  if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream log(log_path);
    std::ostringstream text;
    text << log.rdbuf();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
    throw std::runtime_error("openssl could not make a test certificate: " + text.str());
  }
}

test_certificate::~test_certificate() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace sigkit::test
