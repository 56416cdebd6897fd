// Builds a sender-side controller from a spec string, as `--cc` options take it:
//   "none"                       LineRate (no congestion control)
//   "dcqcn" / "dcqcn:k=v,..."    DcqcnReactionPoint with parse_dcqcn() parameters
// Throws rfab::spec::SpecError naming what is wrong.
#pragma once
#include <memory>
#include <string_view>

#include "rfab/congestion/controller.hpp"

namespace rfab::cc {

std::unique_ptr<Controller> make_controller(std::string_view spec, double line_bps);

}  // namespace rfab::cc
