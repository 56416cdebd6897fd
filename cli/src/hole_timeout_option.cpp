#include "hole_timeout_option.hpp"

#include <rfab/telemetry/duration.hpp>
#include <rfab/telemetry/psn_window_step.h>

#include "checked_options.hpp"

namespace rfab::cli {

CLI::Option* add_hole_timeout(CLI::App* app, std::string& var) {
  return add_duration(app, "--hole-timeout", var,
                      "a PSN hole open longer than this is lost, not reordered: set it above the fabric's longest "
                      "reorder delay (default 4ms, or RFAB_TELEMETRY_HOLE_TIMEOUT; 0: only the 256-PSN window)",
                      0, RFAB_PSN_HOLE_TIMEOUT_NS_MAX);
}

uint64_t hole_timeout_arg(const std::string& text) {
  return static_cast<uint64_t>(telemetry::parse_duration(text).count());
}

}  // namespace rfab::cli
