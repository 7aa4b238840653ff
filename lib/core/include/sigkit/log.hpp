// One line per event worth knowing, as text or JSON lines, written off the
// hot path.
//
// A line is formatted on the calling thread and appended to a buffer of that
// thread's own, under a mutex only the writer thread also takes, briefly (no
// lock shared with other logging threads, no system call). One writer thread
// per logger drains every buffer about every 50 ms, or as soon as one holds
// 64 KiB, in one gathered write. A thread's buffer holds at most 1 MiB: past
// that (the descriptor is not keeping up) lines are dropped and counted, and
// a `log-dropped count=N` line stands where they would have been.
//
//   text: 2024-05-01T12:00:00.123Z info join peer=Ab3x room=lobby threads=4
//   json: {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"join","peer":"Ab3x","threads":4}
#pragma once

#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace sigkit {

enum class log_level { debug, info, warn, error, off };
enum class log_format { text, json };

std::optional<log_level> parse_log_level(std::string_view name) noexcept;

// The value of a field: text, a number or a bool, so JSON lines carry numbers
// as numbers. Text is a view: it must outlive the write() call, which a
// temporary std::string in the call's braces does (it lives until the end of
// the full expression).
class log_value {
  template <class T>
  static constexpr bool is_character = std::same_as<T, char> || std::same_as<T, wchar_t> ||
                                       std::same_as<T, char8_t> || std::same_as<T, char16_t> ||
                                       std::same_as<T, char32_t>;

 public:
  enum class kind : unsigned char { text, signed_integer, unsigned_integer, floating, boolean };

  constexpr log_value(std::string_view text) noexcept : kind_(kind::text), text_(text) {}
  constexpr log_value(const char* text) noexcept
      : kind_(kind::text), text_(text ? std::string_view(text) : std::string_view()) {}
  log_value(const std::string& text) noexcept : kind_(kind::text), text_(text) {}

  // Every integer type but the character types, which are not numbers
  // (std::int8_t and std::uint8_t are signed and unsigned char: numbers).
  template <std::signed_integral T>
    requires(!is_character<T> && sizeof(T) <= sizeof(std::int64_t))
  constexpr log_value(T v) noexcept : kind_(kind::signed_integer), signed_(v) {}
  template <std::unsigned_integral T>
    requires(!is_character<T> && !std::same_as<T, bool> && sizeof(T) <= sizeof(std::uint64_t))
  constexpr log_value(T v) noexcept : kind_(kind::unsigned_integer), unsigned_(v) {}
  template <std::floating_point T>
  constexpr log_value(T v) noexcept : kind_(kind::floating), floating_(static_cast<double>(v)) {}
  // A template so that a pointer or an enum does not become a bool.
  template <std::same_as<bool> T>
  constexpr log_value(T v) noexcept : kind_(kind::boolean), boolean_(v) {}

  // A char is a character, not a number, and a view of one would dangle: pass
  // std::string_view(&c, 1). Enums need their name (to_string), not a number.
  log_value(char) = delete;
  log_value(wchar_t) = delete;
  log_value(char8_t) = delete;
  log_value(char16_t) = delete;
  log_value(char32_t) = delete;
  template <class T>
    requires std::is_enum_v<T>
  log_value(T) = delete;

  constexpr kind type() const noexcept { return kind_; }
  constexpr std::string_view text() const noexcept { return kind_ == kind::text ? text_ : std::string_view(); }
  constexpr std::int64_t signed_integer() const noexcept { return kind_ == kind::signed_integer ? signed_ : 0; }
  constexpr std::uint64_t unsigned_integer() const noexcept { return kind_ == kind::unsigned_integer ? unsigned_ : 0; }
  constexpr double floating() const noexcept { return kind_ == kind::floating ? floating_ : 0.0; }
  constexpr bool boolean() const noexcept { return kind_ == kind::boolean && boolean_; }

 private:
  kind kind_;
  union {
    std::string_view text_;
    std::int64_t signed_;
    std::uint64_t unsigned_;
    double floating_;
    bool boolean_;
  };
};

struct log_field {
  std::string_view key;
  log_value value;
};

class logger {
 public:
  // Lines go to `fd`, which the logger does not close; it must stay open until
  // the logger is destroyed. A logger at level off starts no thread.
  logger(log_level level = log_level::info, log_format format = log_format::text, int fd = 2);
  ~logger();  // stops the writer thread and writes what is buffered
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  // Cheap enough to test before building fields that cost something.
  bool enabled(log_level level) const noexcept { return level >= level_ && level < log_level::off; }

  // `event` is a short stable name (connect, join, close); fields add detail.
  // Never blocks on the descriptor and never throws: a line that cannot be
  // buffered is counted as dropped.
  void write(log_level level, std::string_view event, std::span<const log_field> fields) noexcept;
  void write(log_level level, std::string_view event, std::initializer_list<log_field> fields = {}) noexcept {
    write(level, event, std::span<const log_field>(fields.begin(), fields.size()));
  }

  void debug(std::string_view e, std::initializer_list<log_field> f = {}) noexcept { write(log_level::debug, e, f); }
  void info(std::string_view e, std::initializer_list<log_field> f = {}) noexcept { write(log_level::info, e, f); }
  void warn(std::string_view e, std::initializer_list<log_field> f = {}) noexcept { write(log_level::warn, e, f); }
  void error(std::string_view e, std::initializer_list<log_field> f = {}) noexcept { write(log_level::error, e, f); }

  // Writes every line buffered before the call, from any thread, and returns
  // once they are written (at shutdown, in tests). Blocks on the descriptor.
  void flush() noexcept;

 private:
  class writer;

  log_level level_;
  std::unique_ptr<writer> writer_;  // null at level off
};

}  // namespace sigkit
