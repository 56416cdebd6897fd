// The DPDK datapath: one ethdev (a vdev such as net_af_packet, net_af_xdp or net_memif, or a NIC bound to
// a DPDK driver), one receive and one transmit queue, polled. The EAL is initialised once per process from
// the arguments of the first port opened.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "rfab/frame/frame_port.hpp"

namespace rfab::dpdk {

struct DpdkConfig {
  // EAL arguments, split at white space, e.g. "--no-huge -m 512 --no-pci --no-shconf
  // --vdev=net_af_packet0,iface=veth0". The program name is added in front.
  std::string eal_args;
  uint16_t port = 0;          // ethdev port id (vdevs are numbered in the order given)
  uint32_t mbufs = 8191;      // mbuf pool size (the pool must fit the EAL's memory: -m)
  // 0: transmit from the same pool as the receive queue. Otherwise a pool of this many mbufs that only
  // this port's transmit side uses, so a transmit buffer keeps the bytes last committed in it (see
  // DpdkPort::tx_keeps_frames).
  uint32_t tx_only_mbufs = 0;
  uint16_t rx_desc = 1024, tx_desc = 1024;
};

// Splits EAL arguments at white space; throws frame::FrameError on an empty string.
std::vector<std::string> split_eal_args(const std::string& args);

// Initialises the EAL (first call) and returns. Throws frame::FrameError with DPDK's reason; a later call
// with different arguments keeps the first EAL (it cannot be initialised twice) and says so by throwing
// only when the first one failed.
void init_eal(const std::string& args);

// Initialises the EAL and checks that it has the port; throws frame::FrameError naming what is missing.
void check_port(const DpdkConfig& config);

// A DPDK ethdev as a FramePort that can also transmit a burst at a time: the buffers of a whole burst taken
// from the mbuf pool in one call and queued in one call, so a sender that builds many frames pays for the
// pool and the call once per burst, not once per frame. Use either tx_slot/tx_commit or the burst calls
// between two flushes, not both.
class DpdkPort : public frame::FramePort {
 public:
  // Frame buffers of max_frame() bytes for up to `bufs.size()` frames; returns how many (fewer, or none,
  // while the transmit queue is full or the device holds the rest of the pool: flush and try again).
  virtual size_t tx_reserve(std::span<uint8_t*> bufs) = 0;
  // The first lens.size() buffers of the last reservation hold frames of these lengths: queues them for
  // the next tx_flush and returns the rest of the reservation to the pool.
  virtual void tx_commit_burst(std::span<const uint32_t> lens) = 0;
  // True when transmit buffers come from a pool of their own (DpdkConfig::tx_only_mbufs): no receive
  // queue ever fills them and drivers only read the mbufs they transmit, so a buffer handed out again
  // still holds the frame last committed in it, and a sender may rewrite only the bytes that differ.
  virtual bool tx_keeps_frames() const = 0;
};

// Opens and starts the port. Throws frame::FrameError naming the port and the problem.
std::unique_ptr<DpdkPort> open_dpdk_port(const DpdkConfig& config);

}  // namespace rfab::dpdk
