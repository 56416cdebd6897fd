// When a transfer counts as stalled: neither a completion nor a packet from the peer for the timeout.
// A completion may take long to arrive honestly (a 2 GiB message on 64 QPs finishes after a minute and a
// half of steady traffic), so the clock restarts on every packet received (ACKs, READ responses), not
// only on completions. Packets sent do not count: retransmissions to a dead peer are not progress. A
// device that hides its packets (verbs) falls back to completions alone.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rfab/base/time.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::cli::perf {

class ProgressWatch {
 public:
  ProgressWatch(Nanos start, double timeout_s) : last_(start), limit_(static_cast<Nanos>(timeout_s * 1e9)) {}

  // Called once per polling round with the completions it produced; true once the transfer is stalled.
  bool stalled(Nanos now, size_t completions, const endpoint::Device& dev) {
    if (completions > 0) return seen(now);
    const endpoint::DeviceCounters c = dev.counters();
    if (c.sees_packets && c.rx_packets != rx_) {
      rx_ = c.rx_packets;
      return seen(now);
    }
    return now - last_ > limit_;
  }

 private:
  bool seen(Nanos now) {
    last_ = now;
    return false;
  }
  Nanos last_;
  Nanos limit_;
  uint64_t rx_ = 0;
};

}  // namespace rfab::cli::perf
