#include "rfab/fault/fault_config.hpp"

#include "rfab/base/spec.hpp"

namespace rfab::fault {
namespace {

constexpr std::string_view kWhat = "fault spec";
constexpr std::string_view kKeys = "drop, dup, reorder, corrupt, delay, jitter, depth, hold, seed";

uint32_t depth(std::string_view v) {
  const uint64_t d = spec::parse_uint(v);
  if (d < 1 || d > 1000000) throw spec::SpecError("expected a packet count in 1..1000000");
  return static_cast<uint32_t>(d);
}

}  // namespace

FaultConfig parse_fault(std::string_view text) {
  FaultConfig c;
  if (text == "none") return c;
  for (const auto& kv : spec::split(text, kWhat)) {
    const std::string& k = kv.key;
    if (k == "drop") c.drop = spec::parse_value(kWhat, kv, spec::parse_fraction);
    else if (k == "dup") c.duplicate = spec::parse_value(kWhat, kv, spec::parse_fraction);
    else if (k == "reorder") c.reorder = spec::parse_value(kWhat, kv, spec::parse_fraction);
    else if (k == "corrupt") c.corrupt = spec::parse_value(kWhat, kv, spec::parse_fraction);
    else if (k == "delay") c.delay = spec::parse_value(kWhat, kv, spec::parse_duration);
    else if (k == "jitter") c.jitter = spec::parse_value(kWhat, kv, spec::parse_duration);
    else if (k == "depth") c.reorder_depth = spec::parse_value(kWhat, kv, depth);
    else if (k == "hold") c.reorder_hold = spec::parse_value(kWhat, kv, spec::parse_duration);
    else if (k == "seed") c.seed = spec::parse_value(kWhat, kv, spec::parse_uint);
    else spec::unknown_key(kWhat, k, kKeys);
  }
  return c;
}

std::string describe(const FaultConfig& c) {
  using spec::format_duration;
  using spec::format_number;
  return "drop=" + format_number(c.drop) + ",dup=" + format_number(c.duplicate) +
         ",reorder=" + format_number(c.reorder) + ",corrupt=" + format_number(c.corrupt) +
         ",delay=" + format_duration(c.delay) + ",jitter=" + format_duration(c.jitter) +
         ",depth=" + std::to_string(c.reorder_depth) + ",hold=" + format_duration(c.reorder_hold) +
         ",seed=" + std::to_string(c.seed);
}

}  // namespace rfab::fault
