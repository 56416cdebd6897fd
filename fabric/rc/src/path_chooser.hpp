// The entropies (UDP source ports) of one QP: which one the next request packet takes, and what each has
// shown. Spray rotates over all of them. Adaptive rotates over the ports in use; a port that draws a CNP,
// a NAK, an ACK timeout or round trips far above the best port's is set aside, and when its time is up
// one probe packet decides whether it is taken back. See docs/multipath.md.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/rc/types.hpp"

namespace rfab::rc {

class PathChooser {
 public:
  // (Re)configures for a connection. `window`: packets the requester may have unacknowledged (the ring
  // that remembers which port each PSN took is this big).
  void configure(uint32_t local_qpn, uint32_t remote_qpn, const EntropyPolicy& policy, uint32_t window);

  uint32_t paths() const { return static_cast<uint32_t>(stats_.size()); }
  uint16_t port(uint32_t index) const { return stats_[index].src_port; }
  // Index of `src_port` in this QP's set, or -1 (a port of another set, e.g. a non-rfab peer's CNP).
  int index_of(uint16_t src_port) const;

  // The port index for the next request packet (spray / adaptive).
  uint32_t choose(Nanos now);
  // A request packet left on `index` with `psn`; `resend`: it was sent before (its round trip is not a
  // clean sample, Karn's rule).
  void sent(uint32_t psn, uint32_t index, Nanos now, bool resend);
  // An ACK moved the oldest unacknowledged PSN from `from` to `to`. `ack_port` is the ACK's UDP source
  // port: an rfab responder echoes the port of the request packet that arrived last, the one the ACK
  // waited for. So the latest packet sent on that port within [from, to) came back after at most the
  // time since it left: a round-trip sample for that port (a lower bound of the waited-for packet's).
  // A probe in [from, to) came back within now - its send time.
  void acked(uint32_t from, uint32_t to, uint16_t ack_port, Nanos now);
  // The peer NAKed `psn` as missing, or it timed out: its port lost or delayed it.
  void lost(uint32_t psn, Nanos now);
  // A CNP whose UDP source port echoes the ECN-CE marked packet's port. True when the adaptive policy
  // answered it by setting the port aside while at least half the ports remain in use: the congestion is
  // that path's, and the rate need not drop. False when the rate controller should take it (no adaptive
  // policy, a port not of this set, or most ports aside: the congestion is common to most paths, e.g. a
  // loaded fabric or the receiver's link).
  bool cnp(uint16_t src_port, Nanos now);
  // Responder side: a request packet arrived with `src_port`.
  void received(uint16_t src_port, bool ecn_ce);

  // The counters, with `avoided` filled in.
  std::vector<PathStats> snapshot() const;

 private:
  enum class Use : uint8_t { active, aside, probing };
  struct Port {
    Use use = Use::active;
    Nanos until = 0;       // aside: probe after this
    uint32_t probe_psn = 0;
    Nanos probe_at = 0;    // probing: when the probe left (0 = not yet sent)
    Nanos last_rtt = 0;
  };
  struct Sent {
    Nanos at = 0;
    uint32_t psn = 0;
    uint16_t index = 0;
    bool clean = false;
    bool valid = false;
  };
  bool adaptive() const { return policy_.kind == EntropyPolicy::Kind::adaptive && paths() > 1; }
  bool slow(Nanos rtt) const;
  Nanos best_srtt() const;
  void set_aside(uint32_t i, Nanos now);
  void take_back(uint32_t i);
  void sample(uint32_t i, Nanos rtt, Nanos now);
  void judge_probe(uint32_t i, Nanos rtt, Nanos now);
  const Sent* find(uint32_t psn) const;

  EntropyPolicy policy_;
  uint16_t base_ = 0;  // 14-bit port offset of index 0
  std::vector<PathStats> stats_;
  std::vector<Port> ports_;
  std::vector<Sent> ring_;  // by PSN modulo its (power of two) size
  uint32_t cursor_ = 0;
  uint32_t not_active_ = 0;  // ports aside or probing
  int probe_next_ = -1;      // port whose probe the next sent() is
};

}  // namespace rfab::rc
