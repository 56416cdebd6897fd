// QP1 (the General Services Interface) of a provider device, as far as the IB CM needs it: CM MADs
// (cm_mad.hpp) carried in RoCE v2 UD SEND_ONLY packets (BTH to QP 1, DETH with the GSI Q_Key from QP 1,
// the 256-byte MAD, the ICRC) between this device's address and a kernel rdma_cm peer's.
//
// Receiving: the device's datapath owns UDP port 4791 and hands every ICRC-checked packet for QP 1 to
// the inbox (runtime.cpp), from the datapath's thread and under its lock; the inbox only queues it and
// signals its eventfd, which the CM service thread (rdmacm_service.cpp) watches, so the CM's lock is
// never taken inside the datapath's (cma.hpp's lock order).
// Sending: from an unconnected UDP socket on the device's address (port chosen by the kernel) to the
// peer's port 4791, with the ICRC for the IPv4 ID such a socket's packets carry (0; wire_icrc.hpp).
#pragma once
#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "cm_mad.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::uverbs::gsi {

inline constexpr uint32_t kGsiQpn = 1;
inline constexpr uint32_t kGsiQkey = 0x80010000;
inline constexpr uint16_t kRoceV2Port = 4791;
// BTH + DETH + MAD + ICRC.
inline constexpr size_t kPacketSize = 12 + 8 + ibcm::kMadSize + 4;

// The UDP payload carrying `mad` from `src` to `dst` (ICRC for IPv4 ID 0, as the kernel writes it).
std::vector<uint8_t> frame(std::span<const uint8_t, ibcm::kMadSize> mad, uint32_t psn, const udp::Address& src,
                           const udp::Address& dst);

// The MAD inside a received packet (ICRC already checked by the datapath); nullopt with `why` when it is
// not a UD SEND_ONLY to QP 1 with the GSI Q_Key and a 256-byte MAD.
std::optional<std::span<const uint8_t>> mad_of(std::span<const uint8_t> udp_payload, const char** why);

struct Received {
  udp::Address local;  // the device address it arrived on
  udp::Address src;    // the sender's IP and UDP port
  std::vector<uint8_t> packet;
};

// Packets for QP 1 waiting for the CM service thread.
class Inbox {
 public:
  Inbox();
  int fd() const { return fd_; }  // readable while packets are queued
  void push(const udp::Address& local, const udp::Address& src, std::span<const uint8_t> packet);
  std::deque<Received> take();  // everything queued, in arrival order; clears the eventfd

 private:
  static constexpr size_t kMaxQueued = 1024;  // a flood of QP1 packets is dropped, not buffered forever
  std::mutex mu_;
  std::deque<Received> queue_;
  int fd_ = -1;
};
Inbox& inbox();

// Sends `mad` from device address `local` to `peer` (port 4791). False with `why` when no socket could be
// bound or the kernel refused the datagram.
bool send(const udp::Address& local, const udp::Address& peer, const std::array<uint8_t, ibcm::kMadSize>& mad,
          const char** why);

}  // namespace rfab::uverbs::gsi
