// A Device made of rfab's own RC engine (fabric/rc) and a packet driver that carries its packets. The
// engine runs in this process: it reads and writes registered memory directly, and every protocol counter
// (retransmissions, NAKs, reordering) is visible.
#pragma once
#include <memory>

#include "rfab/endpoint/device.hpp"
#include "rfab/endpoint/packet_driver.hpp"

namespace rfab::endpoint {

std::unique_ptr<Device> make_engine_device(std::unique_ptr<PacketDriver> driver);

// The engine over kernel UDP sockets: the usual way to get an engine device. Throws EndpointError.
std::unique_ptr<Device> make_udp_device(const udp::DriverConfig& config);

}  // namespace rfab::endpoint
