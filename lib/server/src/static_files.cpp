#include "static_files.hpp"

#include <algorithm>
#include <fstream>

#include "sigkit/http/response.hpp"
#include "sigkit/proto/message.hpp"

namespace sigkit::server {

namespace fs = std::filesystem;

static_files::static_files(std::optional<fs::path> root, std::size_t max_bytes)
    : root_(std::move(root)), max_bytes_(max_bytes) {}

static_files::~static_files() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void static_files::serve(std::string path, std::function<void(content)> done) {
  {
    std::lock_guard lock(mutex_);
    jobs_.emplace_back(std::move(path), std::move(done));
    if (!worker_.joinable()) worker_ = std::thread([this] { work(); });
  }
  wake_.notify_one();
}

void static_files::work() {
  for (;;) {
    std::pair<std::string, std::function<void(content)>> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    content c;
    try {
      c = load(job.first);
    } catch (const std::exception&) {
      c = {500, {}, {}};
    }
    job.second(std::move(c));
  }
}

static_files::content static_files::load(const std::string& path) const {
  content not_found{404, {}, {}};
  if (!root_ || path.empty() || path.front() != '/') return not_found;
  if (path.find("..") != std::string::npos || path.find('\\') != std::string::npos ||
      path.find('%') != std::string::npos || path.find('\0') != std::string::npos)
    return not_found;
  std::string relative = path.substr(1);
  std::error_code ec;
  fs::path file = *root_ / (relative.empty() ? "index.html" : relative);
  if (fs::is_directory(file, ec)) file /= "index.html";
  if (!fs::is_regular_file(file, ec) && proto::is_valid_room(relative) &&
      http::mime_type(relative) == "application/octet-stream")
    file = *root_ / "index.html";
  auto canonical_root = fs::weakly_canonical(*root_, ec);
  if (ec) return not_found;
  auto canonical_file = fs::weakly_canonical(file, ec);
  if (ec) return not_found;
  auto [root_end, unused] =
      std::mismatch(canonical_root.begin(), canonical_root.end(), canonical_file.begin(), canonical_file.end());
  if (root_end != canonical_root.end() || !fs::is_regular_file(canonical_file, ec)) return not_found;
  auto size = fs::file_size(canonical_file, ec);
  if (ec) return not_found;
  if (size > max_bytes_) return {413, {}, {}};
  std::ifstream in(canonical_file, std::ios::binary);
  if (!in) return not_found;
  content c{200, std::string(size, '\0'), http::mime_type(canonical_file.native())};
  in.read(c.body.data(), static_cast<std::streamsize>(size));
  c.body.resize(static_cast<std::size_t>(in.gcount()));
  return c;
}

}  // namespace sigkit::server
