// What a user asks for ("fat-tree:k=16,tiers=3,speed=400G"), and the "kind:key=value" splitting the
// emulator's traffic specs share.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "rfab/base/error.hpp"

namespace rfab::topo {

// Any impossible or malformed topology/spec; the message names the offending key and value. A
// ParseError (rfab/base/error.hpp): an impossible tree is bad user input too.
struct TopologyError : ParseError {
  using ParseError::ParseError;
};

// Multi-plane NICs split one port into 2, 4 or 8 planes; more would be ports of a few Gb/s.
inline constexpr unsigned kMaxPlanes = 8;

struct FatTreeSpec {
  unsigned tiers = 0;         // 2 or 3; 0 = the fewest tiers that hold `hosts`
  unsigned radix = 0;         // ports per switch (even); 0 = switch_bps / link_bps
  double switch_bps = 51.2e12;  // used only to derive radix (51.2T = 128 x 400G = 64 x 800G)
  uint64_t hosts = 0;         // 0 = the full tree
  unsigned oversub = 1;       // leaf downlinks : uplinks = oversub : 1
  unsigned rails = 0;         // 0 = plain; N = N NICs per server, NIC r of every server on a rail-r leaf
  double link_bps = 400e9;    // switch-to-switch links
  double host_bps = 0;        // host NIC links; 0 = link_bps
  uint64_t latency_ps = 1'000'000;  // propagation delay of every link (1 us)
  // Multi-plane fabric: every NIC's `speed` (and `host-speed`) is split into `planes` ports of equal
  // speed, each on its own identical fat-tree, the radix derived from the plane's link speed. 1 = one tree.
  unsigned planes = 1;
};

// "fat-tree:k=16,tiers=3,speed=400G,hosts=1000,oversub=3,rails=8,latency=1us,host-speed=200G,switch=51.2T,planes=2"
FatTreeSpec parse_fat_tree(std::string_view text);

// Splits "kind:a=1,b=2" into kind and an ordered key map (rfab::spec::split_kind); duplicate or empty
// keys throw TopologyError. The values are parsed with rfab/base/units.hpp (parse_size, parse_rate_bps,
// parse_duration_ps, parse_u64), which throw ParseError naming `what`.
struct KeyValues {
  std::string kind;
  std::map<std::string, std::string> values;
};
KeyValues parse_key_values(std::string_view text, std::string_view what);

}  // namespace rfab::topo
