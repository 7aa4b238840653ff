// tools/layered_config.hpp with a small app of its own: which layer wins,
// and that every mistake outside the command line says where it is.
#include "layered_config.hpp"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using sigkit::cli::environment;
using sigkit::cli::layer_error;
using sigkit::cli::layered_config;

namespace {

// A config file that removes itself.
class config_file {
 public:
  explicit config_file(const std::string& text) {
    char tmpl[] = "/tmp/layered-config-XXXXXX";
    int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~config_file() { std::remove(path_.c_str()); }
  config_file(const config_file&) = delete;
  config_file& operator=(const config_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A server-like tool: a few options of each kind.
struct demo_tool {
  std::uint16_t port = 8080;
  std::size_t capacity = 2;
  double rate = 100;
  std::string interval = "25s";
  std::string name = "demo";
  std::vector<std::string> origins;

  CLI::App app{"demo tool", "demo"};
  layered_config layers{app, "DEMO_"};
  CLI::Option* port_opt;

  demo_tool() {
    layers.add_config_option("--config", "Read options from this file");
    app.option_defaults()->always_capture_default();
    port_opt = app.add_option("--port", port, "TCP port")->check(sigkit::cli::whole_number(0, 65535));
    app.add_option("--room-capacity", capacity, "Members per room")->check(sigkit::cli::whole_number(0, 1000));
    app.add_option("--rate-limit", rate, "Messages per second")->check(sigkit::cli::real_number(0, 1e6));
    app.add_option("--ping-interval", interval, "Ping interval")->check(sigkit::cli::duration_in(0s, 1h));
    app.add_option("--name", name, "A name")->envname("DEMO_TOOL_NAME");
    app.add_option("--allowed-origin", origins, "Origins")->delimiter(',');
  }

  void parse(std::vector<std::string> args, const environment& env = {}) { layers.parse(args, env); }
};

// The message of the layer_error that parsing throws.
std::string layer_error_of(demo_tool& t, std::vector<std::string> args, const environment& env = {}) {
  try {
    t.parse(std::move(args), env);
  } catch (const layer_error& e) {
    return e.what();
  }
  FAIL("no layer_error");
  return {};
}

}  // namespace

TEST_CASE("layers: a flag beats the environment, which beats the file", "[cli]") {
  config_file file("port = 1111\nroom-capacity = 5\nrate-limit = 7.5\nping-interval = \"3s\"\n");
  demo_tool t;
  t.parse({"--config", file.path(), "--port", "3333"},
          {{"DEMO_PORT", "2222"}, {"DEMO_ROOM_CAPACITY", "6"}, {"DEMO_UNRELATED", "x"}});
  CHECK(t.port == 3333);      // flag over environment and file
  CHECK(t.capacity == 6);     // environment over file
  CHECK(t.rate == 7.5);       // file, where neither said anything
  CHECK(t.interval == "3s");  // file
  CHECK(t.name == "demo");    // nobody: the default
  using source = layered_config::source;
  CHECK(t.layers.source_of(t.port_opt) == source::command_line);
  CHECK(t.layers.source_of(t.app.get_option("--room-capacity")) == source::environment_variable);
  CHECK(t.layers.source_of(t.app.get_option("--rate-limit")) == source::file);
  CHECK(t.layers.source_of(t.app.get_option("--name")) == source::none);
  CHECK(t.layers.setting_name(t.app.get_option("--room-capacity")) == "DEMO_ROOM_CAPACITY");
  CHECK(t.layers.setting_name(t.app.get_option("--rate-limit")) == "rate-limit in " + file.path());
}

TEST_CASE("layers: the environment alone, an explicit variable name, lists and the config path", "[cli]") {
  config_file file("allowed-origin = [\"https://a.example\", \"https://b.example\"]\nport = 4444\n");
  demo_tool t;
  t.parse({}, {{"DEMO_CONFIG", file.path()}, {"DEMO_TOOL_NAME", "from-env"}, {"DEMO_NAME", "ignored"}});
  CHECK(t.port == 4444);
  CHECK(t.name == "from-env");  // ->envname() renames the variable
  CHECK(t.origins == std::vector<std::string>{"https://a.example", "https://b.example"});
  // DEMO_NAME names no option (--name reads DEMO_TOOL_NAME): reported, not fatal.
  REQUIRE(t.layers.unknown_variables().size() == 1);
  CHECK(t.layers.unknown_variables()[0].name == "DEMO_NAME");

  demo_tool u;
  u.parse({"--allowed-origin", "https://c.example"}, {{"DEMO_ALLOWED_ORIGIN", "https://d.example,https://e.example"}});
  CHECK(u.origins == std::vector<std::string>{"https://c.example"});  // a flag replaces the whole list
  demo_tool v;
  v.parse({}, {{"DEMO_ALLOWED_ORIGIN", "https://d.example,https://e.example"}});
  CHECK(v.origins == std::vector<std::string>{"https://d.example", "https://e.example"});
}

TEST_CASE("layers: a misspelt variable is reported with the closest name", "[cli]") {
  demo_tool t;
  t.parse({}, {{"DEMO_ROOM_CAPACTY", "3"}, {"DEMO_PORT", "9"}});
  CHECK(t.capacity == 2);
  REQUIRE(t.layers.unknown_variables().size() == 1);
  CHECK(t.layers.unknown_variables()[0].name == "DEMO_ROOM_CAPACTY");
  CHECK(t.layers.unknown_variables()[0].suggestion == "DEMO_ROOM_CAPACITY");
}

TEST_CASE("layers: an unknown key in the file is an error with a suggestion", "[cli]") {
  config_file file("port = 1\nroom-capacty = 3\n");
  demo_tool t;
  CHECK(layer_error_of(t, {"--config", file.path()}) ==
        "unknown option 'room-capacty' in " + file.path() + " (did you mean 'room-capacity'?)");

  config_file far("colour = \"blue\"\n");
  demo_tool u;
  CHECK(layer_error_of(u, {"--config", far.path()}) == "unknown option 'colour' in " + far.path());

  // Even when a flag would override it: the typo is still a typo.
  config_file overridden("prot = 1\n");
  demo_tool v;
  CHECK(layer_error_of(v, {"--config", overridden.path(), "--port", "2"}) ==
        "unknown option 'prot' in " + overridden.path() + " (did you mean 'port'?)");
}

TEST_CASE("layers: a section is an error, as is a key given twice or the config key", "[cli]") {
  config_file section("port = 1\n[server]\nroom-capacity = 3\n");
  demo_tool t;
  CHECK(layer_error_of(t, {"--config", section.path()}) ==
        "unknown section [server] in " + section.path() + " (demo has no sections: put every option at the top level)");

  config_file empty_section("[limits]\n");
  demo_tool u;
  CHECK(layer_error_of(u, {"--config", empty_section.path()}).rfind("unknown section [limits] in ", 0) == 0);

  config_file dotted("server.port = 1\n");
  demo_tool v;
  CHECK(layer_error_of(v, {"--config", dotted.path()}).rfind("unknown section [server] in ", 0) == 0);

  config_file twice("port = 1\nname = \"x\"\nport = 2\n");
  demo_tool w;
  CHECK(layer_error_of(w, {"--config", twice.path()}).rfind("'port' is set twice in " + twice.path(), 0) == 0);

  config_file nested("config = \"/etc/other.toml\"\n");
  demo_tool x;
  CHECK(layer_error_of(x, {"--config", nested.path()}) ==
        "'config' cannot be set inside a config file (" + nested.path() + ")");

  demo_tool y;
  CHECK(layer_error_of(y, {"--config", "/nonexistent/demo.toml"}) ==
        "cannot read config file /nonexistent/demo.toml");
}

TEST_CASE("layers: a bad value from the environment names the variable", "[cli]") {
  demo_tool t;
  CHECK(layer_error_of(t, {}, {{"DEMO_PORT", "abc"}}) ==
        "DEMO_PORT=abc: expected a whole number from 0 to 65535, got 'abc'");
  demo_tool u;
  CHECK(layer_error_of(u, {}, {{"DEMO_ROOM_CAPACITY", "-1"}}) ==
        "DEMO_ROOM_CAPACITY=-1: expected a whole number from 0 to 1000, got '-1'");
  demo_tool v;
  CHECK(layer_error_of(v, {}, {{"DEMO_PING_INTERVAL", "-5s"}}) ==
        "DEMO_PING_INTERVAL=-5s: must not be negative, got '-5s'");
  // Overridden by a flag, the variable is not read at all.
  demo_tool w;
  w.parse({"--port", "7"}, {{"DEMO_PORT", "abc"}});
  CHECK(w.port == 7);
}

TEST_CASE("layers: a bad value from the file names the file and the key", "[cli]") {
  config_file file("port = 1\nrate-limit = \"nan\"\n");
  demo_tool t;
  CHECK(layer_error_of(t, {"--config", file.path()}) ==
        file.path() + ": rate-limit = nan: expected a number from 0 to 1000000, got 'nan'");

  config_file range("room-capacity = 5000\n");
  demo_tool u;
  CHECK(layer_error_of(u, {"--config", range.path()}) ==
        range.path() + ": room-capacity = 5000: expected a whole number from 0 to 1000, got '5000'");
}

TEST_CASE("layers: a bad flag stays CLI11's error, and help lists the variables", "[cli]") {
  demo_tool t;
  CHECK_THROWS_AS(t.parse({"--port", "-1"}, {{"DEMO_PORT", "2"}}), CLI::ValidationError);
  demo_tool u;
  CHECK_THROWS_AS(u.parse({"--help"}, {{"DEMO_PORT", "abc"}}), CLI::CallForHelp);  // help before any layer
  auto help = u.app.help();
  CHECK(help.find("(Env:DEMO_PORT)") != std::string::npos);
  CHECK(help.find("(Env:DEMO_TOOL_NAME)") != std::string::npos);
  CHECK(help.find("(Env:DEMO_CONFIG)") != std::string::npos);
  CHECK(help.find("DEMO_HELP") == std::string::npos);
}

TEST_CASE("numbers refuse signs, leading zeros, NaN and values out of range", "[cli]") {
  auto whole = sigkit::cli::whole_number(1, 100);
  for (std::string bad : {"-1", "0", "101", "+5", "010", "0x10", " 5", "5 ", "", "1e2", "99999999999999999999999"}) {
    INFO(bad);
    CHECK_FALSE(whole(bad).empty());
  }
  for (std::string good : {"1", "42", "100"}) CHECK(whole(good).empty());

  auto real = sigkit::cli::real_number(0, 10);
  for (std::string bad : {"-1", "nan", "inf", "-inf", "11", "0x1p3", "1,5", "", "2x"}) {
    INFO(bad);
    CHECK_FALSE(real(bad).empty());
  }
  for (std::string good : {"0", "2.5", "1e1", "10"}) CHECK(real(good).empty());

  auto d = sigkit::cli::duration_in(1ms, 1h);
  for (std::string bad : {"-1s", "0", "500us", "2h", "nan", "infs", "5 parsecs"}) {
    INFO(bad);
    CHECK_FALSE(d(bad).empty());
  }
  for (std::string good : {"1ms", "25s", "1h", "1.5s"}) CHECK(d(good).empty());
  CHECK(sigkit::cli::duration_name(60s) == "60s");
  CHECK(sigkit::cli::duration_name(1500ms) == "1500ms");
  CHECK(sigkit::cli::duration_name(0ms) == "0");
}

TEST_CASE("closest_name suggests only near misses", "[cli]") {
  std::vector<std::string> names{"port", "room-capacity", "rate-limit"};
  CHECK(sigkit::cli::closest_name("room-capacty", names) == "room-capacity");
  CHECK(sigkit::cli::closest_name("rate_limit", names) == "rate-limit");
  CHECK(sigkit::cli::closest_name("prt", names) == "port");
  CHECK_FALSE(sigkit::cli::closest_name("colour", names));
}
