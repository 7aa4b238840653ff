// One line per event worth knowing, on stderr, as text or JSON lines.
#pragma once

#include <initializer_list>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

namespace sigkit {

enum class log_level { debug, info, warn, error, off };
enum class log_format { text, json };

std::optional<log_level> parse_log_level(std::string_view name) noexcept;

using log_field = std::pair<std::string_view, std::string_view>;

class logger {
 public:
  logger(log_level level = log_level::info, log_format format = log_format::text)
      : level_(level), format_(format) {}

  bool enabled(log_level level) const noexcept { return level >= level_; }
  // `event` is a short stable name (connect, join, close); fields add detail.
  void write(log_level level, std::string_view event, std::initializer_list<log_field> fields = {});

  void debug(std::string_view e, std::initializer_list<log_field> f = {}) { write(log_level::debug, e, f); }
  void info(std::string_view e, std::initializer_list<log_field> f = {}) { write(log_level::info, e, f); }
  void warn(std::string_view e, std::initializer_list<log_field> f = {}) { write(log_level::warn, e, f); }
  void error(std::string_view e, std::initializer_list<log_field> f = {}) { write(log_level::error, e, f); }

 private:
  log_level level_;
  log_format format_;
  std::mutex mutex_;  // lines from several threads must not interleave
};

}  // namespace sigkit
