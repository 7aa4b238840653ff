// Options from three layers, in the order a twelve-factor deployment expects:
// a flag beats the environment, which beats the config file (a file baked
// into the image, overridden per deployment by the environment).
//
// CLI11 applies its own config file before the environment, so this class
// does the layering itself: it parses the command line alone, then adds
// `--option=value` for every PREFIX_OPTION variable naming an option the
// command line left unset, then for every file key naming an option neither
// set, re-parsing after each addition so that a bad value is reported with
// the place it came from. The last parse holds every layer, so the variables
// CLI11 binds end up with the winning values.
//
// Names: an option's first long name is its file key (`room-capacity`) and,
// upper-cased with `_`, its variable (`SIGSERVE_ROOM_CAPACITY`). An option
// without a long name, --help and --version take no part.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli.hpp"
#include "sigkit/edit_distance.hpp"

extern char** environ;

namespace sigkit::cli {

using environment = std::map<std::string, std::string>;

inline environment process_environment() {
  environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string::npos) env.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return env;
}

// A bad value or key outside the command line. what() is the whole message
// (it already says where: the variable, or the file and key).
class layer_error : public CLI::ParseError {
 public:
  explicit layer_error(std::string what) : CLI::ParseError(std::move(what), CLI::ExitCodes::ValidationError) {}
};

// The candidate closest to `name`, when it is close enough to be a typo.
inline std::optional<std::string> closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 4) + 1;
  for (const auto& c : candidates) {
    auto d = edit_distance(name, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

class layered_config {
 public:
  enum class source { none, command_line, environment_variable, file };

  // `env_prefix` starts every variable ("SIGSERVE_"). Installs a help
  // formatter that shows each option's variable; keep this object alive as
  // long as `app`.
  layered_config(CLI::App& app, std::string env_prefix) : app_(app), prefix_(std::move(env_prefix)) {
    app_.formatter(std::make_shared<formatter>(*this));
  }
  layered_config(const layered_config&) = delete;
  layered_config& operator=(const layered_config&) = delete;

  // The option naming the config file. Its value may come from the command
  // line or the environment, never from the file itself.
  CLI::Option* add_config_option(const std::string& name, const std::string& description) {
    config_ = app_.add_option(name, config_path_, description)->type_name("FILE");
    return config_;
  }

  // Parses `args` (without the program name), then `env`, then the config
  // file. Throws CLI::Success for --help/--version, CLI::ParseError for a
  // bad flag (CLI11's message), layer_error for a bad variable or file.
  void parse(const std::vector<std::string>& args, const environment& env) {
    take_env_names();
    sources_.clear();
    unknown_variables_.clear();
    run(args);
    for (auto* opt : layered_options())
      if (opt->count() > 0) sources_[opt] = source::command_line;

    std::vector<std::string> accepted = args;
    for (auto* opt : layered_options()) {
      if (sources_.count(opt)) continue;
      auto var = env.find(variable_of(opt));
      if (var == env.end()) continue;
      std::vector<std::string> added{opt->get_name() + "=" + var->second};
      try_layer(accepted, added, opt, var->first + "=" + var->second);
      sources_[opt] = source::environment_variable;
    }
    note_unknown_variables(env);

    if (config_ && config_->count() > 0) apply_file(accepted);
  }

  void parse(int argc, char** argv) {
    std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
    parse(args, process_environment());
  }

  // Where an option's value came from after parse().
  source source_of(const CLI::Option* opt) const {
    auto it = sources_.find(opt);
    return it == sources_.end() ? source::none : it->second;
  }

  // How to name an option to the person who set it: "--port",
  // "SIGSERVE_PORT", or "port in /etc/sigserve.toml" (the flag when unset).
  std::string setting_name(const CLI::Option* opt) const {
    switch (source_of(opt)) {
      case source::environment_variable: return variable_of(opt);
      case source::file: return key_of(opt) + " in " + config_path_;
      default: return opt->get_name();
    }
  }

  std::string variable_of(const CLI::Option* opt) const {
    auto it = env_names_.find(opt);
    if (it != env_names_.end()) return it->second;
    std::string name = prefix_ + key_of(opt);
    for (auto& c : name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return name;
  }

  // Variables with the prefix that name no option (SIGSERVE_ROOM_CAPACTY,
  // suggesting SIGSERVE_ROOM_CAPACITY). Left to the tool to warn about: the
  // environment is shared with other programs, so this is no usage error.
  struct unknown_variable {
    std::string name;
    std::optional<std::string> suggestion;
  };
  const std::vector<unknown_variable>& unknown_variables() const { return unknown_variables_; }

  const std::string& config_path() const { return config_path_; }
  CLI::App& app() const { return app_; }

 private:
  // Adds the variable to CLI11's own option listing.
  class formatter : public CLI::Formatter {
   public:
    explicit formatter(const layered_config& layers) : layers_(layers) {}
    std::string make_option_opts(const CLI::Option* opt) const override {
      auto text = CLI::Formatter::make_option_opts(opt);
      if (layers_.takes_part(opt)) text += " (" + get_label("Env") + ":" + layers_.variable_of(opt) + ")";
      return text;
    }

   private:
    const layered_config& layers_;
  };

  static std::string key_of(const CLI::Option* opt) { return opt->get_lnames().front(); }

  bool takes_part(const CLI::Option* opt) const {
    return !opt->get_lnames().empty() && opt != app_.get_help_ptr() && opt != app_.get_help_all_ptr() &&
           opt != app_.get_version_ptr();
  }

  std::vector<CLI::Option*> layered_options() const {
    std::vector<CLI::Option*> out;
    for (auto* opt : app_.get_options([this](const CLI::Option* o) { return takes_part(o); })) out.push_back(opt);
    return out;
  }

  // An ->envname() given to an option names its variable here, and CLI11
  // must not read it itself (it would do so in the wrong layer).
  void take_env_names() {
    for (auto* opt : layered_options()) {
      if (opt->get_envname().empty()) continue;
      env_names_[opt] = opt->get_envname();
      opt->envname("");
    }
  }

  void run(const std::vector<std::string>& args) {
    std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
    app_.parse(reversed);
  }

  // Parses `accepted` + `added`; on success `added` joins `accepted`.
  void try_layer(std::vector<std::string>& accepted, const std::vector<std::string>& added, const CLI::Option* opt,
                 const std::string& where) {
    auto args = accepted;
    args.insert(args.end(), added.begin(), added.end());
    try {
      run(args);
    } catch (const CLI::ParseError& e) {
      std::string what = e.what();
      auto prefix = opt->get_name() + ": ";  // CLI11's ValidationError starts with the flag
      if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
      throw layer_error(where + ": " + what);
    }
    accepted = std::move(args);
  }

  void note_unknown_variables(const environment& env) {
    std::vector<std::string> known;
    for (auto* opt : layered_options()) known.push_back(variable_of(opt));
    for (const auto& [name, value] : env) {
      if (name.rfind(prefix_, 0) != 0 || std::find(known.begin(), known.end(), name) != known.end()) continue;
      unknown_variables_.push_back({name, closest_name(name, known)});
    }
  }

  void apply_file(std::vector<std::string>& accepted) {
    std::vector<CLI::ConfigItem> items;
    try {
      items = CLI::ConfigTOML().from_file(config_path_);
    } catch (const CLI::Error&) {
      throw layer_error("cannot read config file " + config_path_);
    }
    std::vector<std::string> keys;
    std::map<std::string, CLI::Option*> by_key;
    for (auto* opt : layered_options()) {
      if (opt == config_) continue;
      for (const auto& name : opt->get_lnames()) {
        keys.push_back(name);
        by_key[name] = opt;
      }
    }

    // Every key is checked, even one a flag overrides: a typo must not
    // wait for the day the flag is dropped.
    std::vector<std::pair<CLI::Option*, const CLI::ConfigItem*>> settings;
    std::set<const CLI::Option*> seen;
    for (const auto& item : items) {
      if (!item.parents.empty()) {  // [section], or a dotted key
        throw layer_error("unknown section [" + CLI::detail::join(item.parents, ".") + "] in " + config_path_ +
                          " (" + app_.get_name() + " has no sections: put every option at the top level)");
      }
      if (item.name == "--") continue;  // CLI11's end-of-section marker
      if (config_ && std::find(config_->get_lnames().begin(), config_->get_lnames().end(), item.name) !=
                         config_->get_lnames().end())
        throw layer_error("'" + item.name + "' cannot be set inside a config file (" + config_path_ + ")");
      auto found = by_key.find(item.name);
      if (found == by_key.end()) {
        auto hint = closest_name(item.name, keys);
        throw layer_error("unknown option '" + item.name + "' in " + config_path_ +
                          (hint ? " (did you mean '" + *hint + "'?)" : std::string()));
      }
      if (!seen.insert(found->second).second)
        throw layer_error("'" + item.name + "' is set twice in " + config_path_ + " (a list is written [\"a\", \"b\"])");
      settings.emplace_back(found->second, &item);
    }

    for (auto [opt, item] : settings) {
      if (sources_.count(opt)) continue;  // a flag or a variable set it
      std::vector<std::string> added;
      for (const auto& input : item->inputs) added.push_back(opt->get_name() + "=" + input);
      try_layer(accepted, added, opt, config_path_ + ": " + item->name + " = " + CLI::detail::join(item->inputs, ", "));
      sources_[opt] = source::file;
    }
  }

  CLI::App& app_;
  std::string prefix_;
  CLI::Option* config_ = nullptr;
  std::string config_path_;
  std::map<const CLI::Option*, std::string> env_names_;
  std::map<const CLI::Option*, source> sources_;
  std::vector<unknown_variable> unknown_variables_;
};

// Parses through `layers`; returns the exit code when the tool should stop
// now (0 after --help or --version, exit_usage after a bad flag, variable or
// file), having written the one line on stderr.
inline std::optional<int> parse(layered_config& layers, int argc, char** argv) {
  auto& app = layers.app();
  try {
    layers.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const layer_error& e) {
    std::fprintf(stderr, "%s: %s\n", app.get_name().c_str(), e.what());
    return exit_usage;
  } catch (const CLI::ParseError& e) {
    return usage_error(app.get_name().c_str(), e.what());
  }
  return std::nullopt;
}

}  // namespace sigkit::cli
