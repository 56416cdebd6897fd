// DCQCN notification point: decides when a receiver answers ECN-CE with a CNP. At most one CNP per flow
// per `min_interval` (the paper's N = 50 us; ConnectX min_time_between_cnps). A flow is whatever the
// caller keys it by: the destination QPN for an RC responder, (source, QPN) packed into 64 bits for a
// host that serves many peers.
//
// Memory is proportional to the flows that saw CE within the last interval, not to all flows ever seen:
// a flow whose last CNP is older than the interval behaves exactly like an unknown flow, so its entry is
// dropped by a sweep that runs whenever the table has doubled since the previous one (amortised O(1)).
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "rfab/base/time.hpp"

namespace rfab::cc {

class CnpGenerator {
 public:
  struct Stats {
    uint64_t ce_packets = 0;  // ECN-CE packets reported
    uint64_t cnps = 0;        // CNPs requested
  };

  explicit CnpGenerator(Nanos min_interval) : interval_(min_interval) {}

  // An ECN-CE packet of `flow` arrived at `now`. Returns true when a CNP must be sent for it now.
  bool on_ce(Nanos now, uint64_t flow);

  // Forgets a flow (e.g. its QP was destroyed).
  void forget(uint64_t flow) { last_.erase(flow); }
  // Drops every flow whose interval has passed by `now` (on_ce does this on its own as the table grows).
  void expire(Nanos now);

  size_t tracked_flows() const { return last_.size(); }
  Nanos min_interval() const { return interval_; }
  const Stats& stats() const { return stats_; }

 private:
  static constexpr size_t kMinSweep = 1024;

  Nanos interval_;
  std::unordered_map<uint64_t, Nanos> last_;  // flow -> time of its last CNP
  size_t sweep_at_ = kMinSweep;
  Stats stats_{};
};

}  // namespace rfab::cc
