#include "ping_run.hpp"

#include <chrono>
#include <memory>

#include "netns.hpp"

namespace rfab::systest {

std::vector<AgentOutcome> run_agents(const std::vector<std::string>& namespaces, const std::vector<std::string>& args,
                                     int timeout_s) {
  std::vector<std::unique_ptr<Child>> kids;
  for (const auto& ns : namespaces) {
    std::vector<std::string> argv{rfab_binary(), "ping", "--json"};
    argv.insert(argv.end(), args.begin(), args.end());
    kids.push_back(std::make_unique<Child>(ns, argv, "/tmp/" + ns + "-ping.log"));
  }
  std::vector<AgentOutcome> out;
  for (auto& k : kids) {
    AgentOutcome o;
    o.rc = k->wait(std::chrono::seconds(timeout_s));
    o.out = k->output();
    o.json = last_json(o.out);
    out.push_back(std::move(o));
  }
  return out;
}

nlohmann::json pair_of(const nlohmann::json& j, const std::string& src, const std::string& dst) {
  if (!j.is_object()) return nullptr;
  for (const auto& p : j.value("pairs", nlohmann::json::array()))
    if (p.value("src_host", "") == src && p.value("dst_host", "") == dst) return p;
  return nullptr;
}

}  // namespace rfab::systest
