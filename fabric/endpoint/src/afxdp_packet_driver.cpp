// The AF_XDP datapath as a PacketDriver: XSK port + frame driver, next hops from the kernel's tables.
#include "frame_packet_driver.hpp"
#include "rfab/afxdp/afxdp.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::endpoint {

std::unique_ptr<PacketDriver> make_afxdp_packet_driver(const FrameDatapathConfig& config, const AfxdpOptions& o) {
  try {
    afxdp::AfxdpConfig a;
    a.iface = o.iface;
    a.local = config.local;
    if (o.xdp_mode == "auto") a.xdp_mode = afxdp::XdpMode::automatic;
    else if (o.xdp_mode == "native") a.xdp_mode = afxdp::XdpMode::native;
    else if (o.xdp_mode == "generic") a.xdp_mode = afxdp::XdpMode::generic;
    else throw EndpointError("AF_XDP: XDP mode '" + o.xdp_mode + "': expected auto, native or generic");
    if (o.copy_mode == "auto") a.copy_mode = afxdp::CopyMode::automatic;
    else if (o.copy_mode == "zero-copy") a.copy_mode = afxdp::CopyMode::zero_copy;
    else if (o.copy_mode == "copy") a.copy_mode = afxdp::CopyMode::copy;
    else throw EndpointError("AF_XDP: copy mode '" + o.copy_mode + "': expected auto, zero-copy or copy");
    a.queue = o.queue;
    a.frames = o.frames;
    a.busy_poll_us = o.busy_poll_us;
    std::unique_ptr<frame::FramePort> port = afxdp::open_xsk_port(a);
    const std::string iface = a.iface.empty() ? afxdp::interface_of(a.local) : a.iface;
    const int ifindex = afxdp::interface_index(iface);
    frame::FrameDriverConfig fc = frame_driver_config(config);
    const Nanos timeout = o.neighbour_timeout;
    fc.resolve = [ifindex, iface, timeout](const udp::Address& peer) {
      return afxdp::kernel_next_hop_mac(ifindex, iface, peer, timeout);
    };
    fc.spin = Nanos{o.busy_poll_us} * 1000;
    return wrap_frame_driver(std::make_unique<frame::FrameDriver>(fc, std::move(port)));
  } catch (const frame::FrameError& e) {
    throw EndpointError(e.what());
  }
}

void check_afxdp_options(const AfxdpOptions& o) {
  try {
    if (!o.iface.empty()) (void)afxdp::interface_index(o.iface);
  } catch (const frame::FrameError& e) {
    throw EndpointError("AF_XDP: " + std::string(e.what()));
  }
}

}  // namespace rfab::endpoint
