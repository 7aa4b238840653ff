#include "sigkit/log.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <pthread.h>
#include <sys/uio.h>
#include <unistd.h>

namespace sigkit {
namespace {

constexpr std::array<std::string_view, 5> level_names{"debug", "info", "warn", "error", "off"};

constexpr std::size_t wake_bytes = 64 * 1024;     // a buffer this full wakes the writer early
constexpr std::size_t buffer_cap = 1024 * 1024;   // a thread's buffer never holds more
constexpr std::size_t chunk_bytes = 64 * 1024;    // buffers grow by chunks of this size
constexpr std::size_t spare_chunks = 4;           // written chunks a thread keeps for reuse
constexpr std::size_t keep_line_bytes = 64 * 1024;  // a longer line's scratch space is freed
constexpr auto drain_interval = std::chrono::milliseconds(50);
constexpr auto retry_interval = std::chrono::milliseconds(1);  // after a drain that skipped a busy buffer
#ifdef IOV_MAX
constexpr std::size_t max_iov = IOV_MAX;
#else
constexpr std::size_t max_iov = 16;  // POSIX's minimum
#endif

// ---------------------------------------------------------------------------
// Formatting

// "YYYY-MM-DDTHH:MM:SS", rendered again only when the second changes. The
// calendar arithmetic is std::chrono's: gmtime_r would take glibc's time zone
// lock on every line.
struct clock_text {
  std::int64_t second = std::numeric_limits<std::int64_t>::min();
  std::size_t size = 0;
  char text[64];
};

void append_timestamp(std::string& out, clock_text& c) {
  using namespace std::chrono;
  const auto now = floor<milliseconds>(system_clock::now());
  const auto secs = floor<seconds>(now);
  if (secs.time_since_epoch().count() != c.second) {
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss hms{secs - day};
    const int n = std::snprintf(c.text, sizeof c.text, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                                static_cast<int>(hms.seconds().count()));
    c.size = n > 0 ? static_cast<std::size_t>(n) : 0;
    c.second = secs.time_since_epoch().count();
  }
  out.append(c.text, c.size);
  const auto ms = static_cast<unsigned>((now - secs).count());
  const char tail[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                        static_cast<char>('0' + ms % 10), 'Z'};
  out.append(tail, sizeof tail);
}

// The length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t n = 0;
  unsigned char low = 0x80, high = 0xBF;  // the bounds of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < n || byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return n;
}

// A JSON string (RFC 8259 §7). Ill-formed UTF-8 becomes U+FFFD so that a line
// carrying bytes from the network still parses.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the bytes that go out as they are
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (std::size_t n = utf8_sequence(s, i)) {
        i += n;
        continue;
      }
    }
    out.append(s.substr(run, i - run));
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c >= 0x80) {
          out += "\xEF\xBF\xBD";
        } else {
          const char escape[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
          out.append(escape, sizeof escape);
        }
    }
    run = ++i;
  }
  out.append(s.substr(run));
  out += '"';
}

// Text values are quoted when they would not split back out of the line as
// one value: empty, with spaces, quotes, '=' or control characters (a CR or
// an escape sequence from a peer must not reach a terminal), or not UTF-8.
bool needs_quoting(std::string_view s) noexcept {
  if (s.empty()) return true;
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c <= 0x20 || c == 0x7F || c == '"' || c == '=') return true;
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) return true;
    i += n;
  }
  return false;
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form for doubles
  out.append(buf, r.ptr);
}

void append_value(std::string& out, const log_value& v, log_format format) {
  switch (v.type()) {
    case log_value::kind::text:
      if (format == log_format::json || needs_quoting(v.text()))
        append_json_string(out, v.text());
      else
        out += v.text();
      break;
    case log_value::kind::signed_integer: append_number(out, v.signed_integer()); break;
    case log_value::kind::unsigned_integer: append_number(out, v.unsigned_integer()); break;
    case log_value::kind::floating: {
      const double d = v.floating();
      if (std::isfinite(d))
        append_number(out, d);
      else if (format == log_format::json)
        out += "null";  // JSON has no NaN or infinity
      else
        out += std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf";
      break;
    }
    case log_value::kind::boolean: out += v.boolean() ? "true" : "false"; break;
  }
}

void format_line(std::string& out, clock_text& clock, log_format format, log_level level, std::string_view event,
                 std::span<const log_field> fields) {
  const auto level_name = level_names[static_cast<std::size_t>(level)];
  out.clear();
  if (format == log_format::json) {
    out += "{\"ts\":\"";
    append_timestamp(out, clock);
    out += "\",\"level\":\"";
    out += level_name;
    out += "\",\"event\":";
    append_json_string(out, event);
    for (const auto& [key, value] : fields) {
      out += ',';
      append_json_string(out, key);
      out += ':';
      append_value(out, value, format);
    }
    out += '}';
  } else {
    append_timestamp(out, clock);
    out += ' ';
    out += level_name;
    out += ' ';
    out += event;
    for (const auto& [key, value] : fields) {
      out += ' ';
      out += key;
      out += '=';
      append_value(out, value, format);
    }
  }
  out += '\n';
}

// Writes all of `iov`, through partial writes, EINTR and a non-blocking
// descriptor. Gives up on any other error: there is nowhere else to put the
// lines.
void write_all(int fd, std::span<iovec> iov) noexcept {
  iovec* v = iov.data();
  std::size_t n = iov.size();
  while (n > 0) {
    const ssize_t w = ::writev(fd, v, static_cast<int>(std::min(n, max_iov)));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return;
    }
    if (w == 0) return;
    auto left = static_cast<std::size_t>(w);
    while (n > 0 && left >= v->iov_len) {
      left -= v->iov_len;
      ++v;
      --n;
    }
    if (n > 0) {
      v->iov_base = static_cast<char*>(v->iov_base) + left;
      v->iov_len -= left;
    }
  }
}

// ---------------------------------------------------------------------------
// Per-thread buffers

// Formatted lines, in a block that never moves once allocated, so that an
// append copies only its own line: growing one string under the lock would
// copy (and fault in) up to a megabyte while the drain waits for it.
struct chunk {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  std::size_t capacity = 0;
};

chunk make_chunk(std::size_t capacity) {
  // make_unique value-initializes: the pages are touched here, outside the lock.
  return {std::make_unique<char[]>(capacity), 0, capacity};
}

struct thread_buffer {
  thread_buffer() {
    pending.reserve(buffer_cap / chunk_bytes * 2);
    draining.reserve(buffer_cap / chunk_bytes * 2);
    spare.reserve(spare_chunks);
  }

  // The owning thread's alone.
  std::string line;  // the line being formatted, before it is appended
  clock_text clock;

  // The owning thread appends, the drain takes.
  std::mutex mutex;
  std::vector<chunk> pending;
  std::vector<chunk> spare;  // written chunks, back from the drain
  std::size_t pending_bytes = 0;
  std::uint64_t dropped = 0;
  std::size_t dropped_at = 0;  // how many chunks precede the first dropped line
  bool sealed = false;         // the next line starts a chunk, after the dropped ones
  bool full = false;           // drop every line until the next drain, so the gap is one
  bool orphaned = false;       // its thread has exited

  // The drain's alone.
  std::vector<chunk> draining;
  std::uint64_t draining_dropped = 0;
  std::size_t draining_dropped_at = 0;
  std::string marker;  // the log-dropped line
  bool retire = false;
};

// Each thread finds its buffer for a logger here. A logger is known by an id
// never reused, not by its address: a logger destroyed and another created
// where it was must not inherit the old one's (freed) buffer.
struct thread_cache {
  struct entry {
    std::uint64_t logger_id;
    thread_buffer* buffer;               // valid while that logger lives
    std::weak_ptr<thread_buffer> owner;  // to tell, later, whether it still does
  };
  std::vector<entry> entries;

  ~thread_cache();
};

std::atomic<std::uint64_t> next_logger_id{1};
thread_local bool thread_cache_gone = false;  // trivially destructible: readable after the cache is gone
thread_local thread_cache cache;

// At thread exit: the loggers still alive may free this thread's buffers once
// they have written them.
thread_cache::~thread_cache() {
  thread_cache_gone = true;
  for (auto& e : entries) {
    if (auto b = e.owner.lock()) {
      std::lock_guard lock(b->mutex);
      b->orphaned = true;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------
// The writer: the buffers of every thread that logged, and the thread that
// writes them.

class logger::writer {
 public:
  writer(log_format format, int fd);
  ~writer();
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;

  void write(log_level level, std::string_view event, std::span<const log_field> fields) noexcept;
  void flush() noexcept;

 private:
  thread_buffer* local_buffer();
  bool append(thread_buffer& b);
  void request_drain();
  void write_now(const std::string& line) noexcept;
  void run();
  bool drain_locked(bool wait_for_busy) noexcept;
  void take(thread_buffer& b) noexcept;
  void push(std::string_view bytes);

  const log_format format_;
  const int fd_;
  const std::uint64_t id_ = next_logger_id.fetch_add(1, std::memory_order_relaxed);
  std::atomic<std::uint64_t> lost_{0};  // lines that found no memory to be buffered in

  std::mutex buffers_mutex_;  // taken when a thread first logs, and by each drain
  std::vector<std::shared_ptr<thread_buffer>> buffers_;

  std::mutex drain_mutex_;  // one drain at a time, so each thread's lines keep their order
  std::vector<thread_buffer*> batch_;
  std::vector<thread_buffer*> busy_;
  bool retiring_ = false;  // some buffer taken is of a thread that has exited
  std::vector<iovec> iov_;
  clock_text clock_;
  std::string lost_marker_;

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool wake_requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

logger::writer::writer(log_format format, int fd) : format_(format), fd_(fd) {
  // The writer thread takes no asynchronous signal: they belong to the
  // program's threads (one that waits for them with sigwait needs every other
  // thread to block them), and a closed pipe is EPIPE here, not a SIGPIPE.
  sigset_t blocked, old;
  sigfillset(&blocked);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT}) sigdelset(&blocked, s);
  pthread_sigmask(SIG_SETMASK, &blocked, &old);
  try {
    thread_ = std::thread([this] { run(); });
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

logger::writer::~writer() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  flush();
}

thread_buffer* logger::writer::local_buffer() {
  if (thread_cache_gone) return nullptr;
  thread_cache& c = cache;
  for (const auto& e : c.entries)
    if (e.logger_id == id_) return e.buffer;

  // This thread's first line for this logger.
  std::erase_if(c.entries, [](const thread_cache::entry& e) { return e.owner.expired(); });
  auto b = std::make_shared<thread_buffer>();
  c.entries.reserve(c.entries.size() + 1);  // so that the push_back below cannot throw
  {
    std::lock_guard lock(buffers_mutex_);
    buffers_.push_back(b);
  }
  c.entries.push_back({id_, b.get(), b});
  return b.get();
}

// Returns whether the writer should come now rather than at its next round.
bool logger::writer::append(thread_buffer& b) {
  const std::string& line = b.line;
  chunk fresh;  // allocated with the lock released; freed, if unused, after it
  for (;;) {
    std::unique_lock lock(b.mutex);
    if (b.full || line.size() > buffer_cap - b.pending_bytes) {
      if (b.dropped++ == 0) {
        b.dropped_at = b.pending.size();
        b.sealed = true;
      }
      if (line.size() <= buffer_cap) b.full = true;  // a line too long alone is no reason to drop the next
      return false;
    }
    if (b.sealed || b.pending.empty() || b.pending.back().capacity - b.pending.back().size < line.size()) {
      if (!b.spare.empty() && b.spare.back().capacity >= line.size()) {
        b.pending.push_back(std::move(b.spare.back()));
        b.spare.pop_back();
      } else if (fresh.capacity >= line.size()) {
        b.pending.push_back(std::move(fresh));
      } else {
        lock.unlock();
        fresh = make_chunk(std::max(chunk_bytes, line.size()));
        continue;
      }
      b.sealed = false;
    }
    chunk& target = b.pending.back();
    std::memcpy(target.data.get() + target.size, line.data(), line.size());
    target.size += line.size();
    const std::size_t before = b.pending_bytes;
    b.pending_bytes += line.size();
    return before < wake_bytes && b.pending_bytes >= wake_bytes;
  }
}

void logger::writer::request_drain() {
  {
    std::lock_guard lock(wake_mutex_);
    wake_requested_ = true;
  }
  wake_.notify_one();
}

void logger::writer::write(log_level level, std::string_view event, std::span<const log_field> fields) noexcept {
  try {
    thread_buffer* b = local_buffer();
    if (b == nullptr) {
      // Logging from a thread_local destructor, after this thread's cache is
      // gone: rare enough to write on the spot.
      std::string line;
      clock_text clock;
      format_line(line, clock, format_, level, event, fields);
      write_now(line);
      return;
    }
    format_line(b->line, b->clock, format_, level, event, fields);
    const bool wake = append(*b);
    if (b->line.capacity() > keep_line_bytes) std::string().swap(b->line);
    if (wake) request_drain();
  } catch (...) {
    lost_.fetch_add(1, std::memory_order_relaxed);
  }
}

void logger::writer::write_now(const std::string& line) noexcept {
  std::lock_guard lock(drain_mutex_);
  drain_locked(true);  // this thread's earlier lines first
  iovec v{const_cast<char*>(line.data()), line.size()};
  write_all(fd_, std::span<iovec>(&v, 1));
}

void logger::writer::run() {
  auto timeout = drain_interval;
  std::unique_lock lock(wake_mutex_);
  for (;;) {
    wake_.wait_for(lock, timeout, [this] { return wake_requested_ || stopping_; });
    const bool stop = stopping_;
    wake_requested_ = false;
    lock.unlock();
    bool complete = false;
    {
      std::lock_guard drain_lock(drain_mutex_);
      complete = drain_locked(stop);
    }
    if (stop) return;
    timeout = complete ? drain_interval : retry_interval;
    lock.lock();
  }
}

void logger::writer::flush() noexcept {
  std::lock_guard lock(drain_mutex_);
  drain_locked(true);
}

void logger::writer::push(std::string_view bytes) {
  if (!bytes.empty()) iov_.push_back({const_cast<char*>(bytes.data()), bytes.size()});
}

// Called with the buffer's mutex held.
void logger::writer::take(thread_buffer& b) noexcept {
  b.draining.swap(b.pending);  // `draining` was empty
  b.pending_bytes = 0;
  b.draining_dropped = std::exchange(b.dropped, 0);
  b.draining_dropped_at = b.dropped_at;
  b.full = false;
  b.sealed = false;
  b.retire = b.orphaned;
  retiring_ = retiring_ || b.retire;
  if (!b.draining.empty() || b.draining_dropped > 0) batch_.push_back(&b);  // reserved: cannot throw
}

// Takes what every buffer holds and writes it. A buffer whose thread holds
// its mutex is skipped unless `wait_for_busy` (flush() waits): its thread may
// have been preempted in the middle of an append, and waiting for it would
// leave every other buffer filling up meanwhile. It cannot grow while its
// thread is off the CPU, so it loses nothing by being taken a moment later.
// Returns whether every buffer was taken.
bool logger::writer::drain_locked(bool wait_for_busy) noexcept {
  batch_.clear();
  busy_.clear();
  iov_.clear();
  retiring_ = false;
  try {
    {
      std::lock_guard lock(buffers_mutex_);
      batch_.reserve(buffers_.size());  // before anything is taken: take() cannot throw
      busy_.reserve(buffers_.size());
      for (const auto& owned : buffers_) {
        thread_buffer& b = *owned;
        if (!b.mutex.try_lock()) {
          busy_.push_back(&b);
          continue;
        }
        take(b);
        b.mutex.unlock();
      }
    }
    // Only this drain retires buffers, so the pointers stay valid unlocked.
    for (int pass = 0; pass < 3 && !busy_.empty(); ++pass) {
      std::this_thread::yield();
      std::erase_if(busy_, [this](thread_buffer* b) {
        if (!b->mutex.try_lock()) return false;
        take(*b);
        b->mutex.unlock();
        return true;
      });
    }
    if (wait_for_busy) {
      for (thread_buffer* b : busy_) {
        std::lock_guard buffer_lock(b->mutex);
        take(*b);
      }
      busy_.clear();
    }
    // From here on, allocating (a log-dropped line, more iovecs than the last
    // drain needed) can fail, and what was taken is then lost.
    for (thread_buffer* b : batch_) {
      const std::size_t chunks = b->draining.size();
      const std::size_t at = b->draining_dropped > 0 ? std::min(b->draining_dropped_at, chunks) : chunks + 1;
      if (at <= chunks) {
        const log_field count{"count", b->draining_dropped};
        format_line(b->marker, clock_, format_, log_level::warn, "log-dropped", std::span(&count, 1));
      }
      // The log-dropped line stands where the first dropped line would have.
      for (std::size_t i = 0; i <= chunks; ++i) {
        if (i == at) push(b->marker);
        if (i < chunks) push(std::string_view(b->draining[i].data.get(), b->draining[i].size));
      }
    }
    if (const auto lost = lost_.exchange(0, std::memory_order_relaxed)) {
      const log_field count{"count", lost};
      format_line(lost_marker_, clock_, format_, log_level::warn, "log-dropped", std::span(&count, 1));
      push(lost_marker_);
    }
    write_all(fd_, iov_);
  } catch (...) {
  }
  for (thread_buffer* b : batch_) {
    // A few chunks go back to the thread for reuse, unless it is busy
    // appending; the rest are freed here, not under its lock.
    if (!b->retire && b->mutex.try_lock()) {
      for (auto& c : b->draining) {
        if (b->spare.size() == spare_chunks) break;
        if (c.capacity != chunk_bytes) continue;
        c.size = 0;
        b->spare.push_back(std::move(c));
      }
      b->mutex.unlock();
    }
    b->draining.clear();
  }
  if (retiring_) {
    // Their threads have exited and what they wrote is out.
    std::lock_guard lock(buffers_mutex_);
    std::erase_if(buffers_, [](const std::shared_ptr<thread_buffer>& b) { return b->retire; });
  }
  return busy_.empty();
}

// ---------------------------------------------------------------------------

std::optional<log_level> parse_log_level(std::string_view name) noexcept {
  for (std::size_t i = 0; i < level_names.size(); ++i)
    if (level_names[i] == name) return static_cast<log_level>(i);
  if (name == "warning") return log_level::warn;
  return std::nullopt;
}

logger::logger(log_level level, log_format format, int fd)
    : level_(level), writer_(level == log_level::off ? nullptr : std::make_unique<writer>(format, fd)) {}

logger::~logger() = default;

void logger::write(log_level level, std::string_view event, std::span<const log_field> fields) noexcept {
  if (!enabled(level)) return;
  writer_->write(level, event, fields);
}

void logger::flush() noexcept {
  if (writer_) writer_->flush();
}

}  // namespace sigkit
