// --static DIR: files served from a directory, read on a thread of their own
// so that a large file or a slow disk never stalls an event loop. Requests
// never escape the directory, and files above --static-max-bytes are refused.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace sigkit::server {

class static_files {
 public:
  static_files(std::optional<std::filesystem::path> root, std::size_t max_bytes);
  ~static_files();
  static_files(const static_files&) = delete;
  static_files& operator=(const static_files&) = delete;

  bool enabled() const noexcept { return root_.has_value(); }

  struct content {
    int status = 404;  // 200, 404, 413 (too large) or 500
    std::string body;
    std::string_view type;  // Content-Type when 200
  };

  // Finds and reads the file for a request path, on the file thread, and
  // calls `done` there. The rules: "/" and directories mean index.html; a path
  // with "..", a backslash, a percent-escape or a NUL is 404; so is anything
  // whose real path (symlinks followed) lies outside the directory. A
  // one-segment path that is a valid room name and not a file gets
  // index.html (the app's room URL), unless its extension is a known static
  // type (a missing app.js is 404, not a page).
  void serve(std::string path, std::function<void(content)> done);

 private:
  content load(const std::string& path) const;
  void work();

  std::optional<std::filesystem::path> root_;
  std::size_t max_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<std::string, std::function<void(content)>>> jobs_;
  bool stopping_ = false;
  std::thread worker_;  // started on first use
};

}  // namespace sigkit::server
