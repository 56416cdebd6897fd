#include "rfab/telemetry/duration.hpp"

#include "rfab/base/units.hpp"

namespace rfab::telemetry {

std::chrono::nanoseconds parse_duration(const std::string& text) {
  const Nanos ns = parse_duration_ns(text);
  if (ns > static_cast<Nanos>(std::chrono::nanoseconds::max().count()))
    throw_parse_error({}, text, "duration too large");
  return std::chrono::nanoseconds(static_cast<int64_t>(ns));
}

}  // namespace rfab::telemetry
