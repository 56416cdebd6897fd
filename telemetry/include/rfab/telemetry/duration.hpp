// Durations as users type them on the command line: "10s", "500ms", "2m", "1h" (rfab/base/units.hpp:
// a unit is required, as for every duration rfab reads).
#pragma once
#include <chrono>
#include <string>

namespace rfab::telemetry {

// Throws rfab::ParseError (a std::invalid_argument) naming the text when it is not a non-negative duration.
std::chrono::nanoseconds parse_duration(const std::string& text);

}  // namespace rfab::telemetry
