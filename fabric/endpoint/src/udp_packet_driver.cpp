// PacketDriver over rfab::udp::UdpDriver (kernel UDP sockets, GSO/GRO, ICRC over the real headers).
#include <memory>

#include "rfab/endpoint/packet_driver.hpp"
#include "rfab/udp/error.hpp"

namespace rfab::endpoint {
namespace {

class UdpPacketDriver final : public PacketDriver {
 public:
  explicit UdpPacketDriver(const udp::DriverConfig& c) {
    try {
      driver_ = std::make_unique<udp::UdpDriver>(c);
    } catch (const udp::UdpError& e) {
      throw EndpointError(std::string("kernel UDP datapath: ") + e.what());
    }
  }
  std::string name() const override { return "kernel UDP"; }
  const udp::Address& local() const override { return driver_->local(); }
  void attach(rc::QueuePair& qp, const udp::Address& peer) override { driver_->attach(qp, peer); }
  void detach(uint32_t qp_num) override { driver_->detach(qp_num); }
  bool progress(Nanos max_wait) override { return driver_->progress(max_wait); }
  void wake() override { driver_->wake(); }
  Nanos now() const override { return driver_->now(); }
  DeviceCounters counters() const override {
    const udp::DriverStats& s = driver_->stats();
    DeviceCounters c;
    c.sees_packets = true;
    c.tx_packets = s.tx_packets;
    c.rx_packets = s.rx_packets;
    c.tx_bytes = s.tx_bytes;
    c.rx_bytes = s.rx_bytes;
    c.tx_syscalls = s.tx_syscalls;
    c.rx_syscalls = s.rx_syscalls;
    c.tx_dropped = s.tx_dropped;
    c.rx_bad_icrc = s.rx_bad_icrc;
    c.rx_unknown_qp = s.rx_unknown_qp;
    c.rx_malformed = s.rx_malformed;
    return c;
  }

 private:
  std::unique_ptr<udp::UdpDriver> driver_;
};

}  // namespace

std::unique_ptr<PacketDriver> make_udp_packet_driver(const udp::DriverConfig& config) {
  return std::make_unique<UdpPacketDriver>(config);
}

}  // namespace rfab::endpoint
