#include "sigkit/log.hpp"
#include "sigkit/log_rate_limit.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <future>
#include <limits>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

using sigkit::log_field;
using sigkit::log_format;
using sigkit::log_level;
using sigkit::log_rate_limit;
using sigkit::log_value;
using sigkit::logger;

namespace {

// An unnamed file in memory: the logger writes to its descriptor, the test
// reads it back from the start. Memory rather than /tmp because a disk file
// system can stall a write for 100 ms, and a stalled descriptor is what makes
// the logger drop lines (tested on its own below).
class temp_log {
 public:
  temp_log() : fd_(::memfd_create("sigkit-log-test", MFD_CLOEXEC)) { REQUIRE(fd_ >= 0); }
  ~temp_log() { ::close(fd_); }
  temp_log(const temp_log&) = delete;
  temp_log& operator=(const temp_log&) = delete;

  int fd() const { return fd_; }
  std::string contents() const {
    std::string out;
    char buf[65536];
    for (off_t at = 0;;) {
      ssize_t n = ::pread(fd_, buf, sizeof buf, at);
      REQUIRE(n >= 0);
      if (n == 0) return out;
      out.append(buf, static_cast<std::size_t>(n));
      at += n;
    }
  }

 private:
  int fd_;
};

class pipe_fds {
 public:
  pipe_fds() { REQUIRE(::pipe(fds_) == 0); }
  ~pipe_fds() {
    close_write();
    ::close(fds_[0]);
  }
  pipe_fds(const pipe_fds&) = delete;
  pipe_fds& operator=(const pipe_fds&) = delete;

  int read_end() const { return fds_[0]; }
  int write_end() const { return fds_[1]; }
  void close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

 private:
  int fds_[2];
};

std::string read_to_eof(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  CHECK(start == text.size());  // every line ends with a newline
  return lines;
}

std::vector<std::string> split(const std::string& line, char by) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = line.find(by, start)) != std::string::npos; start = at + 1)
    parts.push_back(line.substr(start, at - start));
  parts.push_back(line.substr(start));
  return parts;
}

// Everything after "<timestamp> " on a text line.
std::string after_timestamp(const std::string& line) {
  auto space = line.find(' ');
  REQUIRE(space != std::string::npos);
  return line.substr(space + 1);
}

// One line logged in the given format, read back without its newline.
std::string one_line(log_format format, std::string_view event, std::initializer_list<log_field> fields) {
  temp_log out;
  {
    logger log(log_level::debug, format, out.fd());
    log.info(event, fields);
  }
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 1);
  return lines[0];
}

std::string text_value(std::initializer_list<log_field> fields) {
  auto line = one_line(log_format::text, "e", fields);
  auto prefix = std::string(" info e ") + std::string(fields.begin()->key) + "=";
  auto at = line.find(prefix);
  REQUIRE(at != std::string::npos);
  return line.substr(at + prefix.size());
}

// "2024-05-01T12:00:00.123Z" as a time point, or nullopt if it is not one.
std::optional<std::chrono::sys_time<std::chrono::milliseconds>> parse_timestamp(const std::string& ts) {
  // The shape first: digits where digits go, and nothing else.
  const std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (ts.size() != shape.size()) return std::nullopt;
  for (std::size_t i = 0; i < ts.size(); ++i)
    if (shape[i] == 'd' ? (ts[i] < '0' || ts[i] > '9') : ts[i] != shape[i]) return std::nullopt;
  int y = 0, h = 0, mi = 0, s = 0, ms = 0;
  unsigned mo = 0, d = 0;
  if (std::sscanf(ts.c_str(), "%d-%u-%uT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) != 7) return std::nullopt;
  using namespace std::chrono;
  year_month_day date{year{y} / month{mo} / day{d}};
  if (!date.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  return sys_days{date} + hours{h} + minutes{mi} + seconds{s} + milliseconds{ms};
}

// Threads of this process, once threads that are just exiting have gone.
std::size_t settled_thread_count() {
  auto count = [] {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
  };
  std::size_t last = count();
  for (int stable = 0; stable < 3;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    std::size_t now = count();
    stable = now == last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

enum class unscoped_color { red };
enum class scoped_color { red };

}  // namespace

// --- values ------------------------------------------------------------------

TEST_CASE("log values keep their kind: text, signed, unsigned, double, bool", "[log]") {
  using kind = log_value::kind;
  std::string owned = "owned";
  CHECK(log_value("literal").type() == kind::text);
  CHECK(log_value(owned).text() == "owned");
  CHECK(log_value(std::string_view("view")).text() == "view");
  CHECK(log_value(static_cast<const char*>(nullptr)).text().empty());
  CHECK(log_value(-4).signed_integer() == -4);
  CHECK(log_value(std::numeric_limits<std::int64_t>::min()).signed_integer() ==
        std::numeric_limits<std::int64_t>::min());
  CHECK(log_value(4u).type() == kind::unsigned_integer);
  CHECK(log_value(std::size_t{7}).unsigned_integer() == 7);
  CHECK(log_value(std::numeric_limits<std::uint64_t>::max()).unsigned_integer() ==
        std::numeric_limits<std::uint64_t>::max());
  CHECK(log_value(std::uint8_t{200}).unsigned_integer() == 200);  // a byte is a number
  CHECK(log_value(std::int8_t{-3}).signed_integer() == -3);
  CHECK(log_value(short{-2}).type() == kind::signed_integer);
  CHECK(log_value(1.5).floating() == 1.5);
  CHECK(log_value(0.25f).floating() == 0.25);
  CHECK(log_value(true).type() == kind::boolean);
  CHECK(log_value(true).boolean());
  CHECK_FALSE(log_value(false).boolean());

  // A char is not a number (',' is not 44), nor is an enum, nor a pointer a bool.
  STATIC_REQUIRE_FALSE(std::is_convertible_v<char, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<wchar_t, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<char32_t, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<unscoped_color, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<scoped_color, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<int*, log_value>);
  STATIC_REQUIRE_FALSE(std::is_convertible_v<const void*, log_value>);
  STATIC_REQUIRE(std::is_convertible_v<char*, log_value>);
  STATIC_REQUIRE(std::is_convertible_v<std::string&&, log_value>);
  STATIC_REQUIRE(std::is_convertible_v<long long, log_value>);
  STATIC_REQUIRE(std::is_convertible_v<unsigned long, log_value>);
}

// --- text format ---------------------------------------------------------------

TEST_CASE("text lines are timestamp, level, event, then key=value", "[log]") {
  auto before = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto line = one_line(log_format::text, "join",
                       {{"peer", "Ab3x"},
                        {"room", std::string("lobby")},
                        {"threads", 4},
                        {"seconds", 1.5},
                        {"ok", true},
                        {"off", false},
                        {"delta", -7},
                        {"bytes", std::numeric_limits<std::uint64_t>::max()}});
  auto after = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());

  auto space = line.find(' ');
  REQUIRE(space != std::string::npos);
  auto ts = parse_timestamp(line.substr(0, space));
  REQUIRE(ts);
  CHECK(*ts >= before);
  CHECK(*ts <= after);
  CHECK(line.substr(space + 1) ==
        "info join peer=Ab3x room=lobby threads=4 seconds=1.5 ok=true off=false delta=-7 bytes=18446744073709551615");
}

TEST_CASE("text values that would not split back out of the line are quoted as JSON strings", "[log]") {
  CHECK(text_value({{"v", "a b"}}) == R"("a b")");
  CHECK(text_value({{"v", "say \"hi\""}}) == R"("say \"hi\"")");
  CHECK(text_value({{"v", "k=v"}}) == R"("k=v")");
  CHECK(text_value({{"v", "a\tb"}}) == R"("a\tb")");
  CHECK(text_value({{"v", "two\nlines"}}) == R"("two\nlines")");
  CHECK(text_value({{"v", "cr\r"}}) == R"("cr\r")");
  CHECK(text_value({{"v", "\x1b[2J"}}) == R"("\u001b[2J")");  // no escape sequences to the terminal
  CHECK(text_value({{"v", ""}}) == R"("")");
  CHECK(text_value({{"v", "bad\xff"}}) == "\"bad\xEF\xBF\xBD\"");
  // Plain values stay plain.
  CHECK(text_value({{"v", "ws://127.0.0.1:8080/ws?x"}}) == "ws://127.0.0.1:8080/ws?x");
  CHECK(text_value({{"v", "caf\xC3\xA9"}}) == "caf\xC3\xA9");
  CHECK(text_value({{"v", R"(a\b)"}}) == R"(a\b)");
  // A temporary std::string lives as long as the call.
  CHECK(text_value({{"v", std::string(300, 'x')}}) == std::string(300, 'x'));
}

TEST_CASE("non-finite doubles are nan and inf in text, null in JSON", "[log]") {
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(text_value({{"v", std::nan("")}}) == "nan");
  CHECK(text_value({{"v", -inf}}) == "-inf");
  auto j = nlohmann::json::parse(one_line(log_format::json, "e", {{"nan", std::nan("")}, {"inf", inf}}));
  CHECK(j["nan"].is_null());
  CHECK(j["inf"].is_null());
}

// --- JSON format ---------------------------------------------------------------

TEST_CASE("JSON lines carry numbers as numbers and bools as bools", "[log]") {
  auto before = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());
  auto line = one_line(log_format::json, "join",
                       {{"peer", "Ab3x"},
                        {"threads", 4},
                        {"seconds", 1.5},
                        {"ok", true},
                        {"min", std::numeric_limits<std::int64_t>::min()},
                        {"max", std::numeric_limits<std::uint64_t>::max()},
                        {"room", std::string("lobby")}});
  auto after = std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now());

  // ts, level and event come first, in that order.
  CHECK(line.rfind(R"({"ts":")", 0) == 0);
  CHECK(line.find(R"(","level":"info","event":"join","peer":"Ab3x","threads":4,"seconds":1.5,"ok":true,)") !=
        std::string::npos);
  auto j = nlohmann::json::parse(line);
  auto ts = parse_timestamp(j["ts"].get<std::string>());
  REQUIRE(ts);
  CHECK(*ts >= before);
  CHECK(*ts <= after);
  CHECK(j["level"] == "info");
  CHECK(j["event"] == "join");
  CHECK(j["peer"] == "Ab3x");
  CHECK(j["room"] == "lobby");
  CHECK(j["threads"].is_number_integer());
  CHECK(j["threads"] == 4);
  CHECK(j["seconds"].is_number_float());
  CHECK(j["seconds"] == 1.5);
  CHECK(j["ok"].is_boolean());
  CHECK(j["ok"] == true);
  CHECK(j["min"].get<std::int64_t>() == std::numeric_limits<std::int64_t>::min());
  CHECK(j["max"].get<std::uint64_t>() == std::numeric_limits<std::uint64_t>::max());
  CHECK(j.size() == 10);
}

TEST_CASE("JSON strings are escaped, and bytes that are not UTF-8 replaced", "[log]") {
  const std::string nasty = "quote\" back\\slash\nnew\ttab\x01\x7f caf\xC3\xA9 \xF0\x9F\x98\x80";
  auto line = one_line(log_format::json, "ev\"ent", {{"text", nasty}, {"k\"ey", "v"}, {"bad", "a\xC0\xAF" "b\xED\xA0\x80"}});
  CHECK(line.find('\n') == std::string::npos);
  auto j = nlohmann::json::parse(line);  // throws on ill-formed JSON or UTF-8
  CHECK(j["event"] == "ev\"ent");
  CHECK(j["text"] == nasty);
  CHECK(j["k\"ey"] == "v");
  // An overlong '/' and a surrogate: one U+FFFD per byte.
  CHECK(j["bad"] == "a\xEF\xBF\xBD\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

// --- levels ----------------------------------------------------------------------

TEST_CASE("every level has its name, in text and in JSON", "[log]") {
  for (auto format : {log_format::text, log_format::json}) {
    temp_log out;
    {
      logger log(log_level::debug, format, out.fd());
      log.debug("a");
      log.info("b");
      log.warn("c");
      log.error("d");
      log.write(log_level::off, "never");  // off is a threshold, not a level to write at
    }
    auto lines = lines_of(out.contents());
    REQUIRE(lines.size() == 4);
    const char* names[] = {"debug", "info", "warn", "error"};
    const char* events[] = {"a", "b", "c", "d"};
    for (std::size_t i = 0; i < 4; ++i) {
      if (format == log_format::text) {
        CHECK(after_timestamp(lines[i]) == std::string(names[i]) + " " + events[i]);
      } else {
        auto j = nlohmann::json::parse(lines[i]);
        CHECK(j["level"] == names[i]);
        CHECK(j["event"] == events[i]);
        CHECK(j.size() == 3);
      }
    }
  }
  CHECK(sigkit::parse_log_level("debug") == log_level::debug);
  CHECK(sigkit::parse_log_level("warning") == log_level::warn);
  CHECK(sigkit::parse_log_level("off") == log_level::off);
  CHECK_FALSE(sigkit::parse_log_level("loud"));
}

TEST_CASE("lines below the logger's level are not written, and enabled() says so", "[log]") {
  temp_log out;
  {
    logger log(log_level::warn, log_format::text, out.fd());
    CHECK_FALSE(log.enabled(log_level::debug));
    CHECK_FALSE(log.enabled(log_level::info));
    CHECK(log.enabled(log_level::warn));
    CHECK(log.enabled(log_level::error));
    CHECK_FALSE(log.enabled(log_level::off));
    log.debug("quiet");
    log.info("quiet");
    log.warn("loud", {{"n", 1}});
    log.error("louder");
  }
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 2);
  CHECK(after_timestamp(lines[0]) == "warn loud n=1");
  CHECK(after_timestamp(lines[1]) == "error louder");
}

TEST_CASE("a logger at level off writes nothing and starts no thread", "[log]") {
  // A sanitizer's runtime starts a thread of its own with the process's
  // first new thread: have that happen before counting.
  std::thread([] {}).join();
  temp_log out;
  const auto threads = settled_thread_count();
  {
    logger log(log_level::off, log_format::text, out.fd());
    CHECK(settled_thread_count() == threads);
    for (auto level : {log_level::debug, log_level::info, log_level::warn, log_level::error, log_level::off})
      CHECK_FALSE(log.enabled(level));
    log.error("nothing");
    log.flush();
  }
  CHECK(out.contents().empty());
  // By contrast, a logger that writes has its one writer thread.
  logger on(log_level::info, log_format::text, out.fd());
  CHECK(settled_thread_count() == threads + 1);
}

// --- buffering -------------------------------------------------------------------

TEST_CASE("flush() writes every line logged before it, and returns when done", "[log]") {
  temp_log out;
  logger log(log_level::info, log_format::text, out.fd());
  for (int i = 0; i < 1000; ++i) log.info("line", {{"seq", i}});
  log.flush();
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 1000);
  CHECK(after_timestamp(lines[999]) == "info line seq=999");
  log.info("more");
  log.flush();
  CHECK(lines_of(out.contents()).size() == 1001);
}

TEST_CASE("destroying the logger writes what is still buffered", "[log]") {
  temp_log out;
  {
    logger log(log_level::info, log_format::json, out.fd());
    for (int i = 0; i < 500; ++i) log.info("line", {{"seq", i}});
  }
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 500);
  CHECK(nlohmann::json::parse(lines[499])["seq"] == 499);
}

TEST_CASE("8 threads of 10000 lines each: all arrive whole and each thread's in order", "[log]") {
  constexpr int thread_count = 8, per_thread = 10'000;
  auto format = GENERATE(log_format::text, log_format::json);
  temp_log out;
  {
    logger log(log_level::info, format, out.fd());
    std::vector<std::thread> threads;
    for (int t = 0; t < thread_count; ++t)
      threads.emplace_back([&log, t] {
        for (int i = 0; i < per_thread; ++i) log.info("line", {{"thread", t}, {"seq", i}, {"even", i % 2 == 0}});
      });
    for (auto& t : threads) t.join();
  }
  auto lines = lines_of(out.contents());
  CHECK(lines.size() == std::size_t{thread_count} * per_thread);

  std::vector<int> next(thread_count, 0);
  std::vector<std::size_t> bytes(thread_count, 0);
  std::size_t malformed = 0, out_of_order = 0;
  for (const auto& line : lines) {
    int t = -1, seq = -1;
    bool even = false;
    if (format == log_format::text) {
      auto parts = split(line, ' ');
      if (parts.size() != 6 || !parse_timestamp(parts[0]) || parts[1] != "info" || parts[2] != "line" ||
          parts[3].rfind("thread=", 0) != 0 || parts[4].rfind("seq=", 0) != 0 ||
          (parts[5] != "even=true" && parts[5] != "even=false")) {
        ++malformed;
        continue;
      }
      t = std::stoi(parts[3].substr(7));
      seq = std::stoi(parts[4].substr(4));
      even = parts[5] == "even=true";
    } else {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || j.size() != 6 || !j["thread"].is_number_integer() || !j["seq"].is_number_integer() ||
          !j["even"].is_boolean()) {
        ++malformed;
        continue;
      }
      t = j["thread"].get<int>();
      seq = j["seq"].get<int>();
      even = j["even"].get<bool>();
    }
    if (t < 0 || t >= thread_count || seq != next[static_cast<std::size_t>(t)] || even != (seq % 2 == 0)) {
      ++out_of_order;
      continue;
    }
    ++next[static_cast<std::size_t>(t)];
    bytes[static_cast<std::size_t>(t)] += line.size() + 1;
  }
  CHECK(malformed == 0);
  CHECK(out_of_order == 0);
  for (int n : next) CHECK(n == per_thread);
  // Each thread's lines fit in its buffer, so none may be dropped however late
  // the writer thread gets a CPU (with 8 busy threads on 2 cores it can come
  // later than a thread takes to log them all). The cap has its own test.
  CHECK(*std::max_element(bytes.begin(), bytes.end()) < 1024 * 1024);
}

TEST_CASE("lines from threads that have exited are still written", "[log]") {
  temp_log out;
  logger log(log_level::info, log_format::text, out.fd());
  for (int t = 0; t < 20; ++t) {
    std::thread([&log, t] {
      for (int i = 0; i < 10; ++i) log.info("line", {{"thread", t}, {"seq", i}});
    }).join();
    if (t % 5 == 0) log.flush();  // some drains see a thread gone with lines left
  }
  log.flush();
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 200);
  for (std::size_t i = 0; i < lines.size(); ++i)
    CHECK(after_timestamp(lines[i]) ==
          "info line thread=" + std::to_string(i / 10) + " seq=" + std::to_string(i % 10));
}

namespace {

// Logs from its destructor, at thread exit.
struct logs_at_exit {
  logger* log;
  ~logs_at_exit() { log->info("from-thread-exit"); }
};

}  // namespace

TEST_CASE("a line logged by a thread_local destructor at thread exit is still written", "[log]") {
  temp_log out;
  {
    logger log(log_level::info, log_format::text, out.fd());
    std::thread([&log] {
      // Constructed before the thread first logs, so destroyed after the
      // thread's own record of its buffers.
      thread_local logs_at_exit late{&log};
      log.info("first");
    }).join();
    log.info("main");
  }
  auto lines = lines_of(out.contents());
  REQUIRE(lines.size() == 3);
  CHECK(after_timestamp(lines[0]) == "info first");
  CHECK(after_timestamp(lines[1]) == "info from-thread-exit");
  CHECK(after_timestamp(lines[2]) == "info main");
}

TEST_CASE("one thread, several loggers: each line goes to its own logger", "[log]") {
  temp_log first_out, second_out, third_out;
  {
    logger first(log_level::info, log_format::text, first_out.fd());
    logger second(log_level::info, log_format::text, second_out.fd());
    for (int i = 0; i < 3; ++i) {
      first.info("first", {{"seq", i}});
      second.info("second", {{"seq", i}});
    }
  }
  // A logger created where another was destroyed is a new logger.
  std::optional<logger> slot;
  slot.emplace(log_level::info, log_format::text, first_out.fd());
  const logger* address = &*slot;
  slot->info("first", {{"seq", 3}});
  slot.reset();
  slot.emplace(log_level::info, log_format::text, third_out.fd());
  REQUIRE(&*slot == address);
  slot->info("third");
  slot.reset();

  auto first_lines = lines_of(first_out.contents());
  auto second_lines = lines_of(second_out.contents());
  auto third_lines = lines_of(third_out.contents());
  REQUIRE(first_lines.size() == 4);
  REQUIRE(second_lines.size() == 3);
  REQUIRE(third_lines.size() == 1);
  for (std::size_t i = 0; i < 4; ++i) CHECK(after_timestamp(first_lines[i]) == "info first seq=" + std::to_string(i));
  for (std::size_t i = 0; i < 3; ++i) CHECK(after_timestamp(second_lines[i]) == "info second seq=" + std::to_string(i));
  CHECK(after_timestamp(third_lines[0]) == "info third");
}

TEST_CASE("write() does not wait for a descriptor that is not being read", "[log]") {
  pipe_fds pipe;
  // Fill the pipe, so that any write(2) to it would block.
  const int flags = ::fcntl(pipe.write_end(), F_GETFL);
  ::fcntl(pipe.write_end(), F_SETFL, flags | O_NONBLOCK);
  std::size_t filled = 0;
  const std::string chunk(4096, 'f');
  for (ssize_t n; (n = ::write(pipe.write_end(), chunk.data(), chunk.size())) > 0;) filled += static_cast<std::size_t>(n);
  ::fcntl(pipe.write_end(), F_SETFL, flags);

  std::optional<logger> log;
  log.emplace(log_level::info, log_format::text, pipe.write_end());
  auto logging = std::async(std::launch::async, [&] {
    for (int i = 0; i < 100; ++i) log->info("line", {{"seq", i}});
  });
  CHECK(logging.wait_for(std::chrono::seconds(5)) == std::future_status::ready);

  std::string got;
  std::thread reader([&] { got = read_to_eof(pipe.read_end()); });
  logging.wait();
  log->flush();
  log.reset();
  pipe.close_write();
  reader.join();
  REQUIRE(got.size() >= filled);
  auto lines = lines_of(got.substr(filled));
  REQUIRE(lines.size() == 100);
  CHECK(after_timestamp(lines[99]) == "info line seq=99");
}

TEST_CASE("a full buffer drops lines, and a log-dropped line stands in the gap with their count", "[log]") {
  pipe_fds pipe;
  ::fcntl(pipe.write_end(), F_SETPIPE_SZ, 4096);
  // ~4 MiB of lines, while nobody reads: the writer blocks on the pipe with at
  // most one buffer's worth taken, so the thread's buffer must fill up.
  constexpr int total = 40'000;
  const std::string pad(70, 'p');
  std::optional<logger> log;
  log.emplace(log_level::info, log_format::text, pipe.write_end());
  for (int i = 0; i < total; ++i) log->info("line", {{"seq", i}, {"pad", pad}});

  std::string got;
  std::thread reader([&] { got = read_to_eof(pipe.read_end()); });
  log->flush();
  log.reset();
  pipe.close_write();
  reader.join();

  // Sequence numbers run on through the gaps, each gap as long as its count says.
  long long expected = 0, written = 0, dropped = 0, markers = 0, mismatches = 0;
  for (const auto& line : lines_of(got)) {
    auto rest = after_timestamp(line);
    if (rest.rfind("warn log-dropped count=", 0) == 0) {
      long long n = std::stoll(rest.substr(23));
      CHECK(n > 0);
      expected += n;
      dropped += n;
      ++markers;
      continue;
    }
    if (rest != "info line seq=" + std::to_string(expected) + " pad=" + pad) ++mismatches;
    ++expected;
    ++written;
  }
  CHECK(mismatches == 0);
  CHECK(markers >= 1);
  CHECK(dropped > 0);
  CHECK(written + dropped == total);
  CHECK(expected == total);
  // What was kept is bounded by the cap: at most a buffer in flight, a buffer
  // waiting, and the pipe.
  CHECK(written * 100 < 3 * 1024 * 1024);
}

TEST_CASE("a line longer than the cap is dropped alone, and counted where it was", "[log]") {
  for (auto format : {log_format::text, log_format::json}) {
    temp_log file;
    {
      logger log(log_level::info, format, file.fd());
      log.info("before");
      log.info("huge", {{"v", std::string(2 * 1024 * 1024, 'x')}});
      log.info("after");
    }
    auto lines = lines_of(file.contents());
    REQUIRE(lines.size() == 3);
    if (format == log_format::text) {
      CHECK(after_timestamp(lines[0]) == "info before");
      CHECK(after_timestamp(lines[1]) == "warn log-dropped count=1");
      CHECK(after_timestamp(lines[2]) == "info after");
    } else {
      auto marker = nlohmann::json::parse(lines[1]);
      CHECK(marker["event"] == "log-dropped");
      CHECK(marker["level"] == "warn");
      CHECK(marker["count"].is_number_integer());
      CHECK(marker["count"] == 1);
      CHECK(nlohmann::json::parse(lines[2])["event"] == "after");
    }
  }
}

TEST_CASE("partial writes to a non-blocking pipe lose nothing", "[log]") {
  pipe_fds pipe;
  ::fcntl(pipe.write_end(), F_SETPIPE_SZ, 4096);
  ::fcntl(pipe.write_end(), F_SETFL, ::fcntl(pipe.write_end(), F_GETFL) | O_NONBLOCK);
  std::string got;
  std::thread reader([&] {
    char buf[1000];  // small reads, so the writer keeps meeting a full pipe
    for (ssize_t n; (n = ::read(pipe.read_end(), buf, sizeof buf)) != 0;) {
      if (n < 0) {
        if (errno == EINTR) continue;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  const std::string pad(300, 'p');
  {
    logger log(log_level::info, log_format::text, pipe.write_end());
    for (int i = 0; i < 2000; ++i) log.info("line", {{"seq", i}, {"pad", pad}});
  }
  pipe.close_write();
  reader.join();
  auto lines = lines_of(got);
  REQUIRE(lines.size() == 2000);
  std::size_t wrong = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (after_timestamp(lines[i]) != "info line seq=" + std::to_string(i) + " pad=" + pad) ++wrong;
  CHECK(wrong == 0);
}

// --- rate limit ------------------------------------------------------------------

TEST_CASE("the log rate limit lets a burst through per period and counts what it holds back", "[log]") {
  using namespace std::chrono_literals;
  const auto t0 = log_rate_limit::clock::time_point{} + 1h;
  log_rate_limit limit(3, 1s);
  CHECK(limit.allow(t0));
  CHECK(limit.allow(t0 + 10ms));
  CHECK(limit.allow(t0 + 20ms));
  CHECK(limit.suppressed() == 0);
  CHECK_FALSE(limit.allow(t0 + 30ms));
  CHECK_FALSE(limit.allow(t0 + 999ms));
  CHECK(limit.suppressed() == 2);
  CHECK(limit.allow(t0 + 1s));  // the first of the burst is a period old
  CHECK(limit.take_suppressed() == 2);
  CHECK(limit.suppressed() == 0);
  CHECK_FALSE(limit.allow(t0 + 1s + 5ms));  // the second is not, yet
  CHECK(limit.allow(t0 + 1s + 10ms));
  CHECK(limit.take_suppressed() == 1);
  // After a quiet spell, a whole burst again.
  CHECK(limit.allow(t0 + 10s));
  CHECK(limit.allow(t0 + 10s));
  CHECK(limit.allow(t0 + 10s));
  CHECK_FALSE(limit.allow(t0 + 10s));
  CHECK(limit.take_suppressed() == 1);
}

TEST_CASE("the log rate limit never lets more than a burst through in any period", "[log]") {
  using namespace std::chrono_literals;
  constexpr std::size_t burst = 5;
  const auto period = 1000ms;
  log_rate_limit limit(burst, period);
  auto now = log_rate_limit::clock::time_point{} + 1h;
  std::vector<log_rate_limit::clock::time_point> passed, held;
  std::uint32_t seed = 12345;
  for (int i = 0; i < 20'000; ++i) {
    seed = seed * 1664525u + 1013904223u;  // bursts and lulls, by a fixed generator
    now += std::chrono::microseconds((seed >> 8) % 2000 < 1990 ? (seed >> 8) % 400 : 3'000'000);
    (limit.allow(now) ? passed : held).push_back(now);
  }
  REQUIRE(passed.size() > burst);
  REQUIRE(!held.empty());
  // No window of a period holds more than a burst of passed lines...
  std::size_t over = 0;
  for (std::size_t i = 0; i + burst < passed.size(); ++i)
    if (passed[i + burst] - passed[i] < period) ++over;
  CHECK(over == 0);
  // ...and a line is held back only when the window before it is full.
  std::size_t needless = 0;
  for (auto t : held) {
    auto in_window = std::count_if(passed.begin(), passed.end(), [&](auto p) { return p <= t && t - p < period; });
    if (static_cast<std::size_t>(in_window) != burst) ++needless;
  }
  CHECK(needless == 0);
  CHECK(limit.suppressed() == held.size());  // never taken: every one held back
}

TEST_CASE("a log rate limit of burst 0 holds back everything; of period 0 nothing", "[log]") {
  using namespace std::chrono_literals;
  const auto t0 = log_rate_limit::clock::time_point{} + 1h;
  log_rate_limit none(0, 1s);
  CHECK_FALSE(none.allow(t0));
  CHECK_FALSE(none.allow(t0 + 1h));
  CHECK(none.suppressed() == 2);
  log_rate_limit all(1, 0s);
  for (int i = 0; i < 10; ++i) CHECK(all.allow(t0));
  CHECK(all.suppressed() == 0);
}
