#include "rfab/topology/spec.hpp"

#include "rfab/base/spec.hpp"
#include "rfab/base/units.hpp"

namespace rfab::topo {

KeyValues parse_key_values(std::string_view text, std::string_view what) {
  try {
    spec::KindSpec k = spec::split_kind(text, what);
    KeyValues kv;
    kv.kind = std::move(k.kind);
    for (auto& p : k.values) kv.values.emplace(std::move(p.key), std::move(p.value));
    return kv;
  } catch (const ParseError& e) {
    throw TopologyError(e.what());
  }
}

namespace {

// Links from 1 bit/s to 1 Pbit/s: above that a value is a typo, and the serialization times the emulator
// derives from it would round to zero.
double positive_bps(std::string_view v, const std::string& what) {
  const double r = parse_rate_bps(v, what);
  if (r <= 0) throw_parse_error(what, v, "must be positive");
  if (r > 1e15) throw_parse_error(what, v, "out of range: at most 1000T (1 Pbit/s)");
  return r;
}


}  // namespace

FatTreeSpec parse_fat_tree(std::string_view text) {
  KeyValues kv = parse_key_values(text, "topology");
  if (kv.kind != "fat-tree" && kv.kind != "fattree" && kv.kind != "rail")
    throw TopologyError("topology: '" + kv.kind + "' is not a known topology (use fat-tree:... or rail:...)");
  FatTreeSpec s;
  if (kv.kind == "rail") s.rails = 8;
  for (const auto& [key, v] : kv.values) {
    std::string what = "topology key '" + key + "'";
    try {
      // An explicit 0 is refused where the spec reads 0 as "derive it" (k, tiers, hosts): written out, it is
      // a mistake, and "derive" would quietly build the largest tree the radix allows.
      if (key == "k" || key == "radix") s.radix = parse_u32(v, what, 2, 4096);
      else if (key == "tiers") s.tiers = parse_u32(v, what, 2, 3);
      else if (key == "hosts") s.hosts = parse_u64(v, what, 1);
      else if (key == "speed") s.link_bps = positive_bps(v, what);
      else if (key == "host-speed") s.host_bps = positive_bps(v, what);
      else if (key == "switch") s.switch_bps = positive_bps(v, what);
      else if (key == "oversub") s.oversub = parse_u32(v, what, 1, 4096);
      else if (key == "rails") s.rails = parse_u32(v, what, 0, 64);
      else if (key == "latency") s.latency_ps = parse_duration_ps(v, what);
      else if (key == "planes") s.planes = parse_u32(v, what, 1, kMaxPlanes);
      else
        throw TopologyError("topology: unknown key '" + key +
                            "' (known: k, tiers, hosts, speed, host-speed, switch, oversub, rails, latency, planes)");
    } catch (const TopologyError&) {
      throw;
    } catch (const ParseError& e) {
      throw TopologyError(e.what(), e.reason());  // callers catch TopologyError for every spec problem
    }
  }
  return s;
}

}  // namespace rfab::topo
