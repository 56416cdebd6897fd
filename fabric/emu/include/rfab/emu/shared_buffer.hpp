// The switches' shared packet buffers and PFC. Every data frame a switch holds is charged to the switch's
// buffer and to the ingress port it arrived on until it leaves. Lossy: an egress queue may hold at most
// dt_alpha x the free buffer (dynamic threshold), anything more is dropped. Lossless (PFC): per ingress
// port, an XOFF goes upstream once its bytes exceed max(xoff_min, alpha x free buffer) and an XON once
// they drain `hysteresis` below it; headroom for what is still in flight after an XOFF is reserved out of
// the buffer for every port.
//
// This class keeps the per-switch accounts and applies the rules to a port's IngressAccount (which lives in
// the port's record); it says when a pause or resume is due, the fabric sends the frames.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/ingress_account.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

class SharedBuffer {
 public:
  // Throws topo::TopologyError when PFC is on and a switch's buffer cannot hold headroom plus the minimum
  // XOFF threshold for each of its ports.
  SharedBuffer(const topo::FatTree& tree, const EmuConfig& config);

  // May a data frame of `frame` bytes headed for an egress queue of `egress_queued` bytes enter switch `sw`?
  bool admit(uint32_t sw, uint64_t egress_queued, uint32_t frame) const {
    const uint64_t used = used_[sw];
    if (used + frame > buffer_bytes_) return false;
    // Lossless: the buffer check above is the only limit; the per-port headroom reserve guarantees room
    // for what arrives after XOFF, so a refusal here means the headroom was undersized.
    if (pfc_.enabled) return true;
    double limit = dt_alpha_ * double(buffer_bytes_ - used);
    return double(egress_queued + frame) <= limit;
  }

  // Charges an admitted frame to switch `sw` and to `in`, the account of the port it arrived on. Returns
  // true when that ingress has just crossed the XOFF threshold: pause the upstream port.
  bool charge(uint32_t sw, IngressAccount& in, uint32_t frame) {
    in.bytes += frame;
    used_[sw] += frame;
    if (pfc_.enabled && !in.xoff_sent && in.bytes > xoff_threshold(sw)) {
      in.xoff_sent = 1;
      return true;
    }
    return false;
  }

  // Returns a departing frame's bytes. Returns true when its ingress, paused earlier, has drained far
  // enough below the threshold: resume the upstream port.
  bool release(uint32_t sw, IngressAccount& in, uint32_t frame) {
    in.bytes -= frame;
    used_[sw] -= frame;
    if (in.xoff_sent && in.bytes + pfc_.hysteresis_bytes <= xoff_threshold(sw)) {
      in.xoff_sent = 0;
      return true;
    }
    return false;
  }

  // The dynamic XOFF threshold of switch `sw` at its current occupancy.
  uint64_t xoff_threshold(uint32_t sw) const {
    uint64_t cap = buffer_bytes_ - reserved_[sw];
    uint64_t used = used_[sw];
    uint64_t free = used < cap ? cap - used : 0;
    return std::max(pfc_.xoff_min_bytes, uint64_t(pfc_.alpha * double(free)));
  }

  uint64_t headroom_bytes() const { return headroom_; }
  size_t memory_bytes() const { return used_.capacity() * 8 + reserved_.capacity() * 8; }

 private:
  std::vector<uint64_t> used_;      // per switch
  std::vector<uint64_t> reserved_;  // per switch: headroom set aside for its ports (lossless)
  uint64_t buffer_bytes_ = 0;
  uint64_t headroom_ = 0;
  double dt_alpha_ = 0;
  PfcConfig pfc_;
};

}  // namespace rfab::emu
