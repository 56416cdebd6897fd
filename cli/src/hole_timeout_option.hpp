// --hole-timeout, shared by the live collectors' commands (rfab collect, rfab validate): how long a PSN hole
// may stay open before the missing packet counts as lost rather than reordered (docs/telemetry.md).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace rfab::cli {

// Adds the flag; its text is checked at parse time (a duration from 0 to the collector's maximum).
CLI::Option* add_hole_timeout(CLI::App* app, std::string& var);
// The flag's value in nanoseconds.
uint64_t hole_timeout_arg(const std::string& text);

}  // namespace rfab::cli
