// The device the RoCE transport runs its queue pairs on, chosen by RFAB_TRANSPORT / RFAB_ROCE_DEVICE /
// RFAB_DATAPATH (rfab's engine over udp, afxdp or dpdk):
//   udp   : rfab's own RC engine over kernel UDP sockets, bound to opt.local_ip:opt.port;
//   verbs : an RDMA device through libibverbs (an RNIC or Linux rxe);
//   auto  : verbs when a device with an active RoCE v2 port is present, else udp.
// Both speak RoCE v2 RC, so one rank may use rxe and its peer rfab's engine.
#pragma once
#include <cstdio>
#include <memory>
#include <unordered_map>

#include "rfab/collectives/roce_transport.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::coll {

// Throws Error(System) naming the rank and what failed; Error(InvalidArgument) when verbs is asked for
// and rfab was built without libibverbs.
std::unique_ptr<endpoint::Device> open_roce_device(const RoceOptions& opt, int rank);

// The device's packet counters and each QP's protocol counters (RFAB_ROCE_DEBUG=1), naming peers by rank.
void print_device_counters(std::FILE* f, const endpoint::Device& dev, int rank,
                           const std::unordered_map<uint32_t, int>& rank_of_qpn);

}  // namespace rfab::coll
