// Builds without libxdp / libdpdk: the factories say what is missing.
#include "rfab/endpoint/bypass_drivers.hpp"

namespace rfab::endpoint {

#ifndef RFAB_HAVE_AFXDP
std::unique_ptr<PacketDriver> make_afxdp_packet_driver(const FrameDatapathConfig&, const AfxdpOptions&) {
  throw EndpointError("this rfab was built without the AF_XDP datapath (needs libxdp-dev and RFAB_WITH_BPF=ON)");
}
void check_afxdp_options(const AfxdpOptions&) {
  throw EndpointError("this rfab was built without the AF_XDP datapath (needs libxdp-dev and RFAB_WITH_BPF=ON)");
}
#endif
#ifndef RFAB_HAVE_DPDK
std::unique_ptr<PacketDriver> make_dpdk_packet_driver(const FrameDatapathConfig&, const DpdkOptions&) {
  throw EndpointError("this rfab was built without the DPDK datapath (needs libdpdk-dev and RFAB_WITH_DPDK=ON)");
}
void check_dpdk_options(const DpdkOptions&) {
  throw EndpointError("this rfab was built without the DPDK datapath (needs libdpdk-dev and RFAB_WITH_DPDK=ON)");
}
#endif

}  // namespace rfab::endpoint
