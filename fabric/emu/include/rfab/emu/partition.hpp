// A fabric split into parts that run side by side (threads of one process, or MPI ranks on several
// machines), each with its own event queue, and synchronised conservatively.
//
// Parts are pods: a pod's hosts, leaves and aggregation switches go to one part, and the cores are dealt
// round-robin over the parts (2-tier trees: each leaf with its hosts is a unit, the spines are dealt). The
// only things that cross from one part to another are frames on links (packets, CNPs, PFC pause and resume
// frames), and each takes at least the link latency to arrive. So with the lookahead L = link latency,
// a part may run every event before T + L once all parts have reached T: nothing another part does in
// [T, T + L) can arrive before T + L. Frames for another part wait in its outbox and are handed over at
// the end of each window (partitioned_run.hpp).
//
// Events keep the order one queue gives them (event_queue.hpp: ties by a rank hashed from the event's
// time, kind and target, then a per-(kind, target) count that the scheduling part keeps), and every piece of
// state belongs to the part that owns its node, so a part's events are exactly those of the single-queue
// run on its nodes, in the same order. A part never runs past its window's end, so the frames other parts
// send for the next window are always later than anything it has run (Fabric::inject checks).
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

// An event scheduled by one part for another; `packet` is the frame an arrival carries (kArrive only).
struct RemoteEvent {
  Event event;
  Packet packet;
};

class Partition {
 public:
  static constexpr uint32_t kMaxParts = 65535;

  // Part `self` of `parts`. Throws std::invalid_argument when the tree has fewer pods (2-tier: leaves)
  // than parts, or links without latency (no lookahead).
  Partition(const topo::FatTree& tree, uint32_t parts, uint32_t self);

  uint32_t parts() const { return parts_; }
  uint32_t self() const { return self_; }
  // How far ahead of the slowest part a part may run: the smallest delay of anything crossing parts.
  Picos lookahead() const { return lookahead_; }
  uint32_t part_of_port(topo::PortId p) const { return port_part_[p]; }
  bool owns_port(topo::PortId p) const { return port_part_[p] == self_; }
  bool owns_host(uint32_t host) const { return port_part_[host] == self_; }  // host h owns port h

  // Queues `e` (for a port of another part) for that part; `packet` travels with an arrival.
  void send(const Event& e, const Packet& packet) { out_[port_part_[e.target]].push_back({e, packet}); }
  // Per destination part, the events queued since the last call; the outboxes are left empty.
  std::vector<std::vector<RemoteEvent>> take_outbox();

 private:
  uint32_t parts_, self_;
  Picos lookahead_;
  std::vector<uint16_t> port_part_;  // the part of each port's node
  std::vector<std::vector<RemoteEvent>> out_;
};

}  // namespace rfab::emu
