// A fabric plus its host stack, built from spec strings, for the validation tests.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "rfab/congestion/dcqcn_params.hpp"
#include "rfab/congestion/factory.hpp"
#include "rfab/emu/fabric.hpp"
#include "rfab/emu/paced_stack.hpp"
#include "rfab/topology/spec.hpp"

namespace rfab::emu::test {

struct Rig {
  topo::FatTree tree;
  EmuConfig cfg;
  std::unique_ptr<PacedFlowStack> stack;
  std::unique_ptr<Fabric> fabric;

  Rig(const std::string& topo_spec, EmuConfig c, std::vector<FlowSpec> flows, const std::string& cc = "none")
      : tree(topo::parse_fat_tree(topo_spec)), cfg(c) {
    Nanos cnp_interval = 0;
    if (cc != "none") {
      cc::DcqcnParams p = cc::parse_dcqcn(cc);
      cfg.ecn.kmin_bytes = p.red.kmin_bytes;
      cfg.ecn.kmax_bytes = p.red.kmax_bytes;
      cfg.ecn.pmax = p.red.pmax;
      cnp_interval = p.cnp_interval;
    }
    stack = std::make_unique<PacedFlowStack>(
        tree, cfg, std::move(flows), [cc](double line) { return cc::make_controller(cc, line); }, cnp_interval);
    fabric = std::make_unique<Fabric>(tree, cfg, *stack);
  }
};

}  // namespace rfab::emu::test
