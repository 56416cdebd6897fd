#include "rfab/gen/ports.hpp"

#include "rfab/gen/config.hpp"
#ifdef RFAB_GEN_HAVE_DPDK
#include "rfab/dpdk/dpdk.hpp"
#endif
#ifdef RFAB_GEN_HAVE_AFXDP
#include "rfab/afxdp/afxdp.hpp"
#endif

namespace rfab::gen {

std::unique_ptr<frame::FramePort> open_dpdk(const std::string& eal_args, uint16_t port) {
#ifdef RFAB_GEN_HAVE_DPDK
  dpdk::DpdkConfig c;
  c.eal_args = eal_args;
  c.port = port;
  c.mbufs = 4095;  // the generator only transmits: half the datapath's pool is plenty and fits -m 512
  return dpdk::open_dpdk_port(c);
#else
  (void)eal_args;
  (void)port;
  throw GenError("this rfab was built without DPDK (needs libdpdk-dev and RFAB_WITH_DPDK=ON)");
#endif
}

std::unique_ptr<frame::FramePort> open_afxdp(const std::string& iface, const udp::Address& local) {
#ifdef RFAB_GEN_HAVE_AFXDP
  afxdp::AfxdpConfig c;
  c.iface = iface;
  c.local = local;
  return afxdp::open_xsk_port(c);
#else
  (void)iface;
  (void)local;
  throw GenError("this rfab was built without AF_XDP (needs libxdp-dev and RFAB_WITH_BPF=ON)");
#endif
}

}  // namespace rfab::gen
