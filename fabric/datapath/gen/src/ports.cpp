#include "rfab/gen/ports.hpp"

#include "rfab/gen/config.hpp"
#ifdef RFAB_GEN_HAVE_DPDK
#include "rfab/dpdk/dpdk.hpp"
#endif
#ifdef RFAB_GEN_HAVE_AFXDP
#include "rfab/afxdp/afxdp.hpp"
#endif

namespace rfab::gen {
namespace {

#ifdef RFAB_GEN_HAVE_DPDK
// The burst calls of a DPDK port: one mbuf allocation and one queueing per burst, not per frame.
class DpdkSink final : public FrameSink {
 public:
  explicit DpdkSink(std::unique_ptr<dpdk::DpdkPort> p) : port_(std::move(p)) {}
  std::string describe() const override { return port_->describe(); }
  std::optional<frame::Mac> mac() const override { return port_->mac(); }
  size_t frame_room() const override { return port_->max_frame(); }
  bool keeps_frames() const override { return port_->tx_keeps_frames(); }
  size_t reserve(std::span<uint8_t*> bufs) override { return port_->tx_reserve(bufs); }
  void commit(std::span<const uint32_t> lens) override { port_->tx_commit_burst(lens); }
  void flush() override { port_->tx_flush(); }
  bool pending() const override { return port_->tx_pending(); }
  void close() override {}
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return port_->counters(); }

 private:
  std::unique_ptr<dpdk::DpdkPort> port_;
};
#endif

}  // namespace

std::unique_ptr<FrameSink> open_dpdk(const std::string& eal_args, uint16_t port) {
#ifdef RFAB_GEN_HAVE_DPDK
  dpdk::DpdkConfig c;
  c.eal_args = eal_args;
  c.port = port;
  // The generator only transmits: its frames get a pool of their own (whose mbufs keep the last frame
  // written into them, so a like frame is only patched), the idle receive queue a smaller one.
  c.mbufs = 2047;
  c.tx_only_mbufs = 4095;
  return std::make_unique<DpdkSink>(dpdk::open_dpdk_port(c));
#else
  (void)eal_args;
  (void)port;
  throw GenError("this rfab was built without DPDK (needs libdpdk-dev and RFAB_WITH_DPDK=ON)");
#endif
}

std::unique_ptr<FrameSink> open_afxdp(const std::string& iface, const udp::Address& local) {
#ifdef RFAB_GEN_HAVE_AFXDP
  afxdp::AfxdpConfig c;
  c.iface = iface;
  c.local = local;
  return port_sink(afxdp::open_xsk_port(c));
#else
  (void)iface;
  (void)local;
  throw GenError("this rfab was built without AF_XDP (needs libxdp-dev and RFAB_WITH_BPF=ON)");
#endif
}

}  // namespace rfab::gen
