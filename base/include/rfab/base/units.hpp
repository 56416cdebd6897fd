// The one parser for numbers with units in rfab: every command-line flag, spec key and environment
// variable that takes a size, a rate or a duration goes through these functions, so "4K" means the same
// thing everywhere. The convention (docs/units.md):
//
//   sizes      powers of 1024, as nccl-tests and perftest read them: "4K" = "4KB" = "4KiB" = 4096,
//              "2M" = 2 MiB, "1G", "1T"; plain digits are bytes ("1500", "1500B"). Suffixes are
//              case-insensitive. A size must be a whole number of bytes ("1.5K" = 1536, "1.5B" fails).
//   rates      bits per second, SI multiples: "400G" = "400Gbps" = "400Gb/s" = 400e9, "51.2T", "100M",
//              "1.5Gb/s", "400000000". An upper-case B (bytes per second) is refused.
//   durations  a unit is required: ps, ns, us, ms, s, m (minutes), h: "500us", "1.5ms", "2s", "10m".
//              Only a bare "0" needs none.
//   integers   decimal digits (or 0x hex), range-checked for the target type: nothing wraps.
//
// The parsers are strict: no empty string, no sign, no NaN or infinity, no space, no trailing garbage.
// Every error is a ParseError naming `what` (the flag, key or variable; may be empty) and the value.
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "rfab/base/error.hpp"
#include "rfab/base/time.hpp"

namespace rfab {

uint64_t parse_size(std::string_view v, std::string_view what = {});
double parse_rate_bps(std::string_view v, std::string_view what = {});  // finite, >= 0
Nanos parse_duration_ns(std::string_view v, std::string_view what = {});  // rounded to the nearest ns
uint64_t parse_duration_ps(std::string_view v, std::string_view what = {});

uint64_t parse_u64(std::string_view v, std::string_view what = {}, uint64_t lo = 0,
                   uint64_t hi = std::numeric_limits<uint64_t>::max());
uint32_t parse_u32(std::string_view v, std::string_view what = {}, uint32_t lo = 0,
                   uint32_t hi = std::numeric_limits<uint32_t>::max());
double parse_number(std::string_view v, std::string_view what = {});    // finite, >= 0, no unit
double parse_fraction(std::string_view v, std::string_view what = {});  // [0, 1]; "0.01" or "1%"
bool parse_bool(std::string_view v, std::string_view what = {});        // on/off, true/false, yes/no, 1/0

// Text that parses back to the same value (for describe() functions and reports).
std::string format_duration(Nanos d);  // "55us", "1500ns"
std::string format_size(uint64_t b);   // "200KiB", "1500B"
std::string format_rate(double bps);   // "40Mbps", "0.5bps"
std::string format_number(double v);   // shortest text that round-trips

}  // namespace rfab
