// Runs `rfab ping` agents (one per namespace, started together) and collects what each printed.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rfab::systest {

struct AgentOutcome {
  int rc = -1;
  nlohmann::json json;  // the agent's --json object (null when it printed none)
  std::string out;
};

// `rfab ping --json ARGS` in each of `namespaces` at once; each gets `timeout_s` to finish.
std::vector<AgentOutcome> run_agents(const std::vector<std::string>& namespaces, const std::vector<std::string>& args,
                                     int timeout_s = 25);

// The entropies of the pair src -> dst in an agent's JSON (null when the pair is missing).
nlohmann::json pair_of(const nlohmann::json& j, const std::string& src, const std::string& dst);

}  // namespace rfab::systest
