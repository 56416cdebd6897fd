// PacketDriver over the frame driver (AF_XDP, DPDK): errors become EndpointError; the port's own
// counters (copy or zero-copy, wakeups, device statistics) travel in DeviceCounters::datapath.
#include "frame_packet_driver.hpp"

#include "rfab/frame/error.hpp"

namespace rfab::endpoint {
namespace {

class FramePacketDriver final : public PacketDriver {
 public:
  explicit FramePacketDriver(std::unique_ptr<frame::FrameDriver> d) : d_(std::move(d)) {}
  std::string name() const override { return d_->port().describe(); }
  const udp::Address& local() const override { return d_->local(); }
  void attach(rc::QueuePair& qp, const udp::Address& peer) override {
    try {
      d_->attach(qp, peer);
    } catch (const frame::FrameError& e) {
      throw EndpointError(e.what());
    }
  }
  void detach(uint32_t qp_num) override { d_->detach(qp_num); }
  bool progress(Nanos max_wait) override { return d_->progress(max_wait); }
  void wake() override { d_->wake(); }
  Nanos now() const override { return d_->now(); }
  uint32_t max_mtu(uint32_t wanted) const override { return std::min(wanted, d_->max_mtu()); }
  DeviceCounters counters() const override {
    const frame::FrameDriverStats& s = d_->stats();
    DeviceCounters c;
    c.sees_packets = true;
    c.tx_packets = s.tx_packets;
    c.rx_packets = s.rx_packets;
    c.tx_bytes = s.tx_bytes;
    c.rx_bytes = s.rx_bytes;
    c.tx_syscalls = d_->port().tx_syscalls();
    c.rx_syscalls = d_->port().rx_syscalls();
    c.rx_bad_icrc = s.rx_bad_icrc;
    c.rx_unknown_qp = s.rx_unknown_qp;
    c.rx_malformed = s.rx_malformed;
    c.datapath = d_->port().counters();
    c.datapath.insert(c.datapath.end(), {{"rx_not_roce", s.rx_not_roce},
                                         {"rx_malformed", s.rx_malformed},
                                         {"rx_unknown_qp", s.rx_unknown_qp},
                                         {"tx_no_buffer", s.tx_no_buffer},
                                         {"arp_requests_sent", s.arp_requests},
                                         {"arp_replies_sent", s.arp_replies}});
    return c;
  }

 private:
  std::unique_ptr<frame::FrameDriver> d_;
};

}  // namespace

frame::FrameDriverConfig frame_driver_config(const FrameDatapathConfig& c) {
  frame::FrameDriverConfig f;
  f.local = c.local;
  f.verify_icrc = c.verify_icrc;
  f.udp_checksum_v4 = c.udp_checksum;
  f.rx_faults = c.rx_faults;
  return f;
}

std::unique_ptr<PacketDriver> wrap_frame_driver(std::unique_ptr<frame::FrameDriver> driver) {
  return std::make_unique<FramePacketDriver>(std::move(driver));
}

}  // namespace rfab::endpoint
