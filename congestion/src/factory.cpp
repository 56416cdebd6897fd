#include "rfab/congestion/factory.hpp"

#include <stdexcept>
#include <string>

#include "rfab/congestion/reaction_point.hpp"
#include "rfab/base/spec.hpp"

namespace rfab::cc {

std::unique_ptr<Controller> make_controller(std::string_view spec, double line_bps) {
  if (spec == "none") return std::make_unique<LineRate>(line_bps);
  if (spec == "dcqcn" || spec.starts_with("dcqcn:")) {
    const DcqcnParams p = parse_dcqcn(spec);
    try {
      return std::make_unique<DcqcnReactionPoint>(p, line_bps);
    } catch (const std::invalid_argument& e) {  // e.g. min_rate above this NIC's line rate
      throw spec::SpecError(std::string("congestion control \"") + std::string(spec) + "\": " + e.what());
    }
  }
  throw spec::SpecError("unknown congestion control \"" + std::string(spec) +
                        "\" (expected none or dcqcn[:key=value,...])");
}

}  // namespace rfab::cc
