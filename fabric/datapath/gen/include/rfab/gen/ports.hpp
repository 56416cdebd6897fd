// The generator's ports: a DPDK ethdev or AF_XDP sockets, opened through the datapath libraries when this
// rfab was built with them, as the sinks the generator writes its frames into.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rfab/gen/sinks.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::gen {

// A DPDK port that takes a burst of frames at a time (mbufs reserved and queued per burst). Throws
// GenError when built without DPDK, frame::FrameError for a bad EAL or port.
std::unique_ptr<FrameSink> open_dpdk(const std::string& eal_args, uint16_t port);
// Transmit on `iface` (its XDP steering program is attached for `local`, as for any AF_XDP port). Throws
// GenError when built without AF_XDP, frame::FrameError for a missing interface or missing privileges.
std::unique_ptr<FrameSink> open_afxdp(const std::string& iface, const udp::Address& local);

}  // namespace rfab::gen
