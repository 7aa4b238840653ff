#include "sigkit/bench/capacity.hpp"

#include <cstdio>

namespace sigkit::bench {
namespace {

std::string number(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string rate_text(double r) { return number(r, r == static_cast<double>(static_cast<long long>(r)) ? 0 : 1) + "/s"; }

}  // namespace

capacity_search::capacity_search(const threshold& condition, double start, double step, std::size_t max_steps)
    : condition_(condition), start_(start), step_(step), max_steps_(max_steps) {
  result_.condition = condition.expr;
  result_.unit = condition.kind == metric_kind::latency ? "ms" : "";
}

double capacity_search::next_rate() const noexcept {
  return start_ + step_ * static_cast<double>(result_.steps.size());
}

void capacity_search::record(capacity_step step) {
  if (done_) return;
  const double rate = step.rate;
  result_.steps.push_back(std::move(step));
  const auto& last = result_.steps.back();
  if (last.saturated) {
    done_ = true;
    result_.ended = "the generator saturated at " + rate_text(rate) +
                    (result_.highest_rate ? ": the server held at least " + rate_text(*result_.highest_rate) +
                                                "; a second machine (--segment) can push further"
                                          : ", before any rate held");
    return;
  }
  if (!last.held) {
    done_ = true;
    result_.ended = last.broke + " broke at " + rate_text(rate);
    return;
  }
  result_.highest_rate = rate;
  if (result_.steps.size() >= max_steps_) {
    done_ = true;
    result_.ended = "still holding after " + std::to_string(max_steps_) + " steps; raise --rate-start or --rate-step";
  }
}

void capacity_search::stop(std::string why) {
  if (done_) return;
  done_ = true;
  result_.ended = std::move(why);
}

nlohmann::json to_json(const capacity_result& c) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : c.steps) {
    nlohmann::json step = {{"rate", s.rate},
                           {"join_rate", s.join_rate},
                           {"observed", s.observed ? nlohmann::json(*s.observed) : nlohmann::json(nullptr)},
                           {"held", s.held},
                           {"saturated", s.saturated}};
    if (!s.broke.empty()) step["broke"] = s.broke;
    steps.push_back(std::move(step));
  }
  return {{"condition", c.condition},
          {"unit", c.unit},
          {"highest_rate", c.highest_rate ? nlohmann::json(*c.highest_rate) : nlohmann::json(nullptr)},
          {"ended", c.ended},
          {"steps", steps}};
}

void write_text(std::ostream& out, const capacity_result& c) {
  out << "\n  capacity   " << c.condition << ": ";
  if (c.highest_rate) out << "held up to " << rate_text(*c.highest_rate) << " arrivals";
  else out << "no rate held";
  out << " (" << c.ended << ")\n";
  char line[200];
  std::snprintf(line, sizeof line, "    %10s %10s %14s  %s\n", "rate/s", "joins/s", c.condition.substr(0, 14).c_str(),
                "verdict");
  out << line;
  for (const auto& s : c.steps) {
    std::string observed = s.observed ? number(*s.observed, 3) + (c.unit.empty() ? "" : " " + c.unit) : "-";
    std::string verdict = s.saturated ? "generator saturated" : s.held ? "held" : "broke: " + s.broke;
    std::snprintf(line, sizeof line, "    %10s %10s %14s  %s\n", number(s.rate, 0).c_str(), number(s.join_rate, 1).c_str(),
                  observed.c_str(), verdict.c_str());
    out << line;
  }
}

}  // namespace sigkit::bench
