// PFC's account of one switch port as an ingress: the bytes buffered at its switch that arrived on it, and
// whether it has told its upstream XOFF. SharedBuffer owns the logic; the record itself sits inside the
// port's EgressPort, so a port that both sends and receives keeps all its state in one cache line rather
// than two (at thousands of hosts the port records do not fit in cache).
#pragma once
#include <cstdint>

namespace rfab::emu {

struct IngressAccount {
  uint64_t bytes : 63 = 0;
  uint64_t xoff_sent : 1 = 0;
};
static_assert(sizeof(IngressAccount) == 8);

}  // namespace rfab::emu
