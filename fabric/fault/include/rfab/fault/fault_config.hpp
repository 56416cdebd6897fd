// What the fault injector does, and its spec string:
//   "drop=0.01,dup=0.001,reorder=0.05,delay=10us,jitter=5us,corrupt=0.001,seed=7"
// Probabilities accept "1%". Keys: drop dup reorder corrupt delay jitter depth hold seed.
// "" and "none" mean no faults.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "rfab/base/time.hpp"

namespace rfab::fault {

struct FaultConfig {
  double drop = 0;       // probability a pushed packet is discarded
  double duplicate = 0;  // probability a second, unmodified copy is also delivered
  double reorder = 0;    // probability a packet is held back so later packets overtake it
  double corrupt = 0;    // probability one random bit of the packet is flipped
  Nanos delay = 0;       // fixed latency added to every packet
  Nanos jitter = 0;      // extra latency, uniform in [0, jitter]; it never reorders on its own
  uint32_t reorder_depth = 3;  // a held packet is overtaken by 1..depth later packets (uniform) ...
  Nanos reorder_hold = 100_us; // ... or released this long after it was due, whichever comes first
  uint64_t seed = 1;

  bool operator==(const FaultConfig&) const = default;
  bool any() const { return drop > 0 || duplicate > 0 || reorder > 0 || corrupt > 0 || delay > 0 || jitter > 0; }
};

// Throws rfab::spec::SpecError naming the bad key or value.
FaultConfig parse_fault(std::string_view spec);
// A spec that parse_fault() turns back into `c`.
std::string describe(const FaultConfig& c);

}  // namespace rfab::fault
