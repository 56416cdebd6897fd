// What rfab's RC engine needs from a packet datapath: carry the packets of attached QPs to and from the
// wire, run their timers, pace them, sleep until there is work. The engine device (engine_device.hpp)
// owns the QPs and drives them only through this interface, so each datapath (kernel UDP; AF_XDP and DPDK
// in bypass_drivers.hpp) is one implementation of it.
#pragma once
#include <cstdint>
#include <memory>

#include "rfab/base/time.hpp"
#include "rfab/endpoint/device.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/udp/address.hpp"
#include "rfab/udp/driver.hpp"

namespace rfab::endpoint {

class PacketDriver {
 public:
  virtual ~PacketDriver() = default;
  virtual std::string name() const = 0;  // "kernel UDP"
  // The local RoCE address peers send to.
  virtual const udp::Address& local() const = 0;
  // Starts moving `qp`'s packets to and from `peer` (not owned: stays alive until detached).
  virtual void attach(rc::QueuePair& qp, const udp::Address& peer) = 0;
  virtual void detach(uint32_t qp_num) = 0;
  // Does the work that is ready; waits up to max_wait for more when there was none. True when it did work.
  virtual bool progress(Nanos max_wait) = 0;
  virtual void wake() = 0;  // the only call safe from another thread
  virtual Nanos now() const = 0;
  virtual DeviceCounters counters() const = 0;
  // The largest path MTU (bytes) the datapath carries when `wanted` is asked for (frame-based datapaths are
  // bounded by their buffers).
  virtual uint32_t max_mtu(uint32_t wanted) const { return wanted; }
};

// The kernel-UDP datapath (fabric/datapath/udp). Throws EndpointError naming the address when it cannot
// bind.
std::unique_ptr<PacketDriver> make_udp_packet_driver(const udp::DriverConfig& config);

}  // namespace rfab::endpoint
