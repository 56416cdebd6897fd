// The generator's ports: a DPDK ethdev or AF_XDP sockets, opened through the datapath libraries when this
// rfab was built with them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rfab/frame/frame_port.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::gen {

// Throws GenError when built without DPDK, frame::FrameError for a bad EAL or port.
std::unique_ptr<frame::FramePort> open_dpdk(const std::string& eal_args, uint16_t port);
// Transmit on `iface` (its XDP steering program is attached for `local`, as for any AF_XDP port). Throws
// GenError when built without AF_XDP, frame::FrameError for a missing interface or missing privileges.
std::unique_ptr<frame::FramePort> open_afxdp(const std::string& iface, const udp::Address& local);

}  // namespace rfab::gen
