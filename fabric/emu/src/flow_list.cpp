#include "rfab/emu/flow_list.hpp"

#include <string>

namespace rfab::emu {

void check_flows(const std::vector<FlowSpec>& flows, uint32_t hosts) {
  for (size_t i = 0; i < flows.size(); ++i) {
    const FlowSpec& s = flows[i];
    if (s.src >= hosts || s.dst >= hosts || s.src == s.dst)
      throw TrafficError("traffic: flow " + std::to_string(i) + " has a bad src/dst pair");
    if (s.after != kNoFlow && s.after >= flows.size())
      throw TrafficError("traffic: flow " + std::to_string(i) + " waits for a flow that does not exist");
  }
}

std::vector<std::vector<uint32_t>> flow_dependents(const std::vector<FlowSpec>& flows) {
  std::vector<std::vector<uint32_t>> out;
  for (uint32_t i = 0; i < flows.size(); ++i) {
    if (flows[i].after == kNoFlow) continue;
    if (out.empty()) out.resize(flows.size());
    out[flows[i].after].push_back(i);
  }
  return out;
}

}  // namespace rfab::emu
