#include "rfab/emu/cross_validation.hpp"

#include <algorithm>
#include <cmath>

#include "rfab/congestion/factory.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/flow_engine.hpp"
#include "rfab/emu/paced_stack.hpp"
#include "rfab/emu/scenario.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu {

CrossValidation cross_validate(const std::string& topo_spec, const EmuConfig& cfg, const std::vector<FlowSpec>& flows,
                               Picos horizon) {
  const topo::FatTree tree(topo::parse_fat_tree(topo_spec));
  CrossValidation c;
  c.flows = flows.size();
  std::vector<Picos> packet_done(flows.size(), kNeverPs), flow_done(flows.size(), kNeverPs);
  {
    double cpu0 = process_cpu_seconds();
    PacedFlowStack stack(tree, cfg, flows, [](double line) { return cc::make_controller("none", line); }, 0);
    Fabric fabric(tree, cfg, stack);
    fabric.run_until(horizon);
    for (uint32_t f = 0; f < flows.size(); ++f) packet_done[f] = stack.flow_done(f);
    c.cpu_packet = process_cpu_seconds() - cpu0;
  }
  {
    double cpu0 = process_cpu_seconds();
    Traffic t;
    t.flows = flows;
    FlowEngine fluid(tree, cfg, t);
    fluid.run_until(horizon);
    for (uint32_t f = 0; f < flows.size(); ++f) flow_done[f] = fluid.flow_done(f);
    c.cpu_flow = process_cpu_seconds() - cpu0;
  }
  std::vector<double> rel;
  for (uint32_t f = 0; f < flows.size(); ++f) {
    const Picos p = packet_done[f], q = flow_done[f];
    if (p == kNeverPs || q == kNeverPs) continue;
    rel.push_back(std::fabs(double(q) - double(p)) / double(p));
    c.mean_flow += double(q);
    c.mean_packet += double(p);
    c.last_flow = std::max(c.last_flow, q);
    c.last_packet = std::max(c.last_packet, p);
  }
  c.compared = rel.size();
  if (!rel.empty()) {
    c.mean_flow /= double(rel.size());
    c.mean_packet /= double(rel.size());
    std::sort(rel.begin(), rel.end());
    c.median_rel = rel[rel.size() / 2];
    c.p90_rel = rel[rel.size() * 9 / 10];
  }
  return c;
}

}  // namespace rfab::emu
