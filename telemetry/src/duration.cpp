#include "rfab/telemetry/duration.hpp"

#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace rfab::telemetry {

std::chrono::nanoseconds parse_duration(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || !std::isfinite(v) || v < 0)
    throw std::invalid_argument("'" + text + "' is not a duration (examples: 10s, 500ms, 2m, 1.5)");
  std::string unit(end);
  double scale;
  if (unit.empty() || unit == "s") scale = 1e9;
  else if (unit == "ms") scale = 1e6;
  else if (unit == "us") scale = 1e3;
  else if (unit == "m") scale = 60e9;
  else if (unit == "h") scale = 3600e9;
  else throw std::invalid_argument("unknown unit '" + unit + "' in duration '" + text + "' (use h, m, s, ms, us)");
  double ns = v * scale;
  if (ns > 1e18) throw std::invalid_argument("duration '" + text + "' is too long");
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(ns)));
}

}  // namespace rfab::telemetry
