// Which links a flow loads in the flow-level engine, and with what share of its rate.
//
// ECMP (one path per flow) takes the path the packet-level engine's switches would pick: at every switch
// the route's equal-cost ports (FatTree::route) and the same salted 5-tuple hash (flow_hash) and choice
// (EcmpRouting) as Router, with the flow's UDP source port from flow_entropy. NIC spraying over N ports is
// N such paths, each carrying 1/N of the flow.
//
// Per-packet adaptive routing is modelled as ideal equal splitting over every up-port at every hop. With
// equal splitting all links of a group carry the same load, so a group is one "bundle" link whose
// capacity is the group's: a leaf's up-links, a pod's aggregation-to-core links, the core links into a
// pod and the aggregation links into a leaf. A flow then loads at most six links (host, leaf-up, pod-up,
// core-down, agg-down, host) instead of hundreds, which is what lets 100,000 hosts run in seconds.
//
// A multi-plane fabric (FatTree::planes() > 1) has a copy of one plane's links per plane, plane i's at
// i x plane_links(). The NIC splits every flow evenly over its planes, as multi-plane NICs spray a QP's
// packets: each plane carries 1/planes of the flow on the path that plane's switches pick. Under ECMP each
// plane hashes its own entropy (plane 0 the flow's, so one plane is the single-tree fabric), so a flow is
// as fast as its slowest plane lets it be.
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/emu/config.hpp"
#include "rfab/emu/event_queue.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

struct LinkShare {
  uint32_t link = 0;
  double share = 1.0;  // fraction of the flow's rate on this link
};

class FlowPaths {
 public:
  FlowPaths(const topo::FatTree& tree, const EmuConfig& cfg);

  // Links 0..ports()-1 are the tree's egress ports; with adaptive routing the bundles follow them. Planes
  // after the first repeat that layout.
  uint32_t links() const { return plane_links_ * tree_.planes(); }
  uint32_t plane_links() const { return plane_links_; }
  // Payload capacity of a link in bytes per picosecond (line rate x the goodput of full MTU packets).
  double capacity(uint32_t link) const;
  // Appends flow `flow`'s links (each once) to `out`.
  void path(uint32_t flow, uint32_t src, uint32_t dst, std::vector<LinkShare>& out) const;
  // Time from the last byte leaving the sender to it reaching the receiver: propagation on every link plus
  // the store-and-forward of one full frame at every switch.
  Picos delay(uint32_t src, uint32_t dst) const;
  // The egress ports a link stands for (one for a port, the group's ports for a bundle).
  std::vector<topo::PortId> ports_of(uint32_t link) const;
  bool bundled() const { return bundled_; }

 private:
  void plane_path(uint32_t flow, uint32_t plane, uint32_t src, uint32_t dst, double share,
                  std::vector<LinkShare>& out) const;
  void ecmp_path(uint32_t src, uint32_t dst, uint16_t sport, double share, std::vector<LinkShare>& out) const;
  void bundle_path(uint32_t src, uint32_t dst, double share, std::vector<LinkShare>& out) const;
  topo::NodeId up_neighbour(topo::NodeId n, uint32_t remote_host) const;
  uint32_t remote_host(uint32_t pod) const;  // some host outside `pod` (any host for a 2-tier tree)
  uint32_t host_on_leaf(uint32_t leaf_index) const;  // topo::kNone if the leaf has none

  const topo::FatTree& tree_;
  const EmuConfig& cfg_;
  bool bundled_ = false;
  uint32_t plane_links_ = 0;
  // Bundle ids: [leaf_up_, +leaves) [agg_down_, +leaves) [pod_up_, +pods) [core_down_, +pods).
  uint32_t leaf_up_ = 0, agg_down_ = 0, pod_up_ = 0, core_down_ = 0;
  uint32_t leaf_up_count_ = 0, agg_up_count_ = 0;  // up-ports of a leaf, of an aggregation switch
  double goodput_ = 1.0;                           // payload / wire bytes of a full packet
  Picos frame_ps_ = 0;                             // one full frame at fabric link rate
};

}  // namespace rfab::emu
