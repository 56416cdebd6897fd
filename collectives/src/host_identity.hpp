// Who this process is, as far as choosing transports goes: its logical host (host groups of hierarchical
// algorithms) and its machine (which ranks can share memory).
#pragma once
#include <string>

namespace rfab::coll {

// RFAB_HOSTNAME, or the hostname.
std::string logical_host();

// "boot_id/hostname/netns": ranks with equal machines share a kernel boot, a hostname and a network
// namespace, hence can map each other's shared memory. Ranks in other network namespaces (containers,
// `ip netns exec`) are other hosts to the network, so they talk RoCE even on one kernel. With RFAB_SHM=0
// every rank is its own machine ("/rank<r>" appended): everything then goes over RoCE.
std::string machine_id(int rank);

// Whether two machine_id()s run on one kernel (same boot id): such ranks share CPUs even when they do
// not share memory.
bool same_kernel(const std::string& machine_a, const std::string& machine_b);

}  // namespace rfab::coll
