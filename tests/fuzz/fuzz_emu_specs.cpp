// Feeds arbitrary text to the emulator's command-line spec parsers (`rfab emulate --topo/--routing/--cc/
// --fail/--traffic`): the first byte picks the parser, the rest is the spec. Checks, besides no crash or
// sanitizer report: a bad spec throws std::invalid_argument (or a subclass) or TrafficError with a non-empty message;
// nothing else escapes, and a topology or traffic spec that parses stays within the limits it promises.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "rfab/congestion/dcqcn_params.hpp"
#include "rfab/emu/config.hpp"
#include "rfab/emu/failures.hpp"
#include "rfab/emu/step_traffic.hpp"
#include "rfab/emu/traffic.hpp"
#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;

namespace {

const topo::FatTree& small_tree() {
  static const topo::FatTree t(topo::parse_fat_tree("fat-tree:k=8,tiers=3"));
  return t;
}

void run(uint8_t which, const std::string& spec) {
  switch (which % 6) {
    case 0: {
      // Only build trees small enough to check quickly; the parse itself is what is fuzzed.
      const topo::FatTreeSpec s = topo::parse_fat_tree(spec);
      (void)s;
      break;
    }
    case 1:
      (void)emu::parse_routing_choice(spec);
      break;
    case 2:
      (void)cc::parse_dcqcn(spec);
      break;
    case 3: {
      const emu::FailureSet f = emu::parse_failures(spec, small_tree(), 1);
      if (f.ports.size() != 2u * f.links) std::abort();
      for (topo::PortId p : f.ports)
        if (p >= small_tree().ports()) std::abort();
      break;
    }
    case 4: {
      if (spec.rfind("file:", 0) == 0) return;  // reads a path: not for a fuzzer
      const auto flows = emu::make_traffic(spec, small_tree(), 1);
      for (const emu::FlowSpec& f : flows)
        if (f.src >= small_tree().hosts() || f.dst >= small_tree().hosts()) std::abort();
      break;
    }
    case 5: {  // step: specs, parsed only (recording one may take the whole flow budget)
      const emu::StepSpec st = emu::parse_step(spec);
      if (st.collective == "train" && (st.train.tp == 0 || st.train.pp == 0 || st.train.ep == 0)) std::abort();
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string spec(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    run(data[0], spec);
  } catch (const std::invalid_argument& e) {
    if (std::string(e.what()).empty()) std::abort();
  } catch (const emu::TrafficError& e) {
    if (std::string(e.what()).empty()) std::abort();
  }
  return 0;
}
