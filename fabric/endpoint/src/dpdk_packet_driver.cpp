// The DPDK datapath as a PacketDriver: an ethdev + frame driver that answers and sends ARP itself.
#include "frame_packet_driver.hpp"
#include "rfab/dpdk/dpdk.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::endpoint {

std::unique_ptr<PacketDriver> make_dpdk_packet_driver(const FrameDatapathConfig& config, const DpdkOptions& o) {
  try {
    dpdk::DpdkConfig d;
    d.eal_args = o.eal_args;
    d.port = o.port;
    d.mbufs = o.mbufs;
    frame::FrameDriverConfig fc = frame_driver_config(config);
    fc.own_arp = true;
    if (fc.local.v6)  // before the EAL takes the port
      throw EndpointError("DPDK: the datapath resolves neighbours with ARP, so it needs an IPv4 address (" +
                          fc.local.ip_string() + " is IPv6)");
    return wrap_frame_driver(std::make_unique<frame::FrameDriver>(fc, dpdk::open_dpdk_port(d)));
  } catch (const frame::FrameError& e) {
    throw EndpointError(e.what());
  }
}

void check_dpdk_options(const DpdkOptions& o) {
  try {
    dpdk::DpdkConfig d;
    d.eal_args = o.eal_args;
    d.port = o.port;
    dpdk::check_port(d);
  } catch (const frame::FrameError& e) {
    throw EndpointError(e.what());
  }
}

}  // namespace rfab::endpoint
