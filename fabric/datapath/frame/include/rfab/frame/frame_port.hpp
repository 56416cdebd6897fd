// A port that moves whole Ethernet frames (no FCS) to and from the wire: an AF_XDP socket set, a DPDK
// ethdev. The frame driver (frame_driver.hpp) runs RC queue pairs over one. Single-threaded.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rfab/frame/ethernet.hpp"

namespace rfab::frame {

class FramePort {
 public:
  virtual ~FramePort() = default;
  // What the port is and how it moves frames, e.g. "AF_XDP veth0 1 queue(s), copy mode, native XDP".
  virtual std::string describe() const = 0;
  virtual Mac mac() const = 0;
  // The longest frame (from the Ethernet header on) the port can send and receive.
  virtual size_t max_frame() const = 0;

  // Receive: up to out.size() frames, valid until rx_release().
  virtual size_t rx_burst(std::span<std::span<const uint8_t>> out) = 0;
  virtual void rx_release() = 0;

  // Transmit: a buffer of max_frame() bytes to build the next frame in, or an empty span when the port has
  // none free right now (flush, and try again later). Until tx_commit the same buffer comes back.
  virtual std::span<uint8_t> tx_slot() = 0;
  virtual void tx_commit(size_t len) = 0;  // the slot holds a frame of `len` bytes: queue it
  virtual void tx_flush() = 0;             // hand the queued frames to the device
  virtual bool tx_pending() const = 0;     // frames queued or not yet completed by the device

  // A file descriptor that becomes readable when frames arrive, for epoll; -1 when the port can only be
  // polled (DPDK).
  virtual int wait_fd() const = 0;
  // Port-specific counters (name, value), e.g. wakeup system calls, frames the device dropped.
  virtual std::vector<std::pair<std::string, uint64_t>> counters() const = 0;
  // System calls the port made to receive / transmit (wakeups), for the device counters.
  virtual uint64_t rx_syscalls() const = 0;
  virtual uint64_t tx_syscalls() const = 0;
};

}  // namespace rfab::frame
