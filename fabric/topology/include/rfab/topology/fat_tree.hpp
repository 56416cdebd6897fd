// Fat-tree (folded Clos) topologies, 2 or 3 tiers, with rail-optimized host placement and leaf
// oversubscription. Nothing is stored per host or per link: every id, peer and route is a closed-form
// function of the spec, so a 100,000-host fabric costs a few hundred bytes here and memory stays linear in
// whatever the caller keeps per port.
//
// Ids are deterministic and dense:
//   nodes: hosts [0,H), leaves [H, H+L), then aggregation (3-tier) or spine (2-tier) switches, then cores.
//   ports: one egress port per (node, local port); host h owns port h; each switch owns a contiguous range.
//   A link is the pair (p, peer(p)); a packet sent on egress port p arrives on ingress port peer(p).
//
// A multi-plane fabric (FatTreeSpec::planes > 1) is that many identical trees side by side, one port of
// every NIC in each. The object describes one plane: link_bps() and host_bps() are a plane's speeds (spec()
// keeps the NIC's), every id is a plane's, and nic_bps() is a host's speed over all its planes. Whoever
// carries traffic over the planes (the flow-level engine) offsets plane i's links by i x one plane's links.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "rfab/topology/spec.hpp"

namespace rfab::topo {

using NodeId = uint32_t;
using PortId = uint32_t;
inline constexpr uint32_t kNone = ~uint32_t{0};

enum class Tier : uint8_t { host = 0, leaf = 1, agg = 2, core = 3 };  // 2-tier: spines are `agg`

// The ECMP-relevant header fields of a RoCE v2 flow; the UDP source port carries the entropy.
struct FlowKey {
  uint32_t src_ip = 0, dst_ip = 0;
  uint16_t src_port = 0, dst_port = 4791;
  uint8_t proto = 17;
};

// Hash of the 5-tuple, salted per switch so successive hops do not make correlated choices (polarization).
uint32_t ecmp_hash(const FlowKey& key, NodeId node);

// Where a switch may send a packet for a destination: `count` equal-cost local ports starting at `first`.
// count == 1 means the route is forced (downward); > 1 are the up-ports to choose among.
struct Route {
  uint32_t first = 0;
  uint32_t count = 0;
};

class FatTree {
 public:
  explicit FatTree(const FatTreeSpec& spec);  // throws TopologyError when the spec cannot be built

  const FatTreeSpec& spec() const { return spec_; }
  unsigned tiers() const { return spec_.tiers; }
  unsigned radix() const { return k_; }
  uint32_t hosts() const { return hosts_; }
  uint32_t leaves() const { return leaves_; }
  uint32_t aggs() const { return aggs_; }  // spines in a 2-tier tree
  uint32_t cores() const { return cores_; }
  uint32_t pods() const { return pods_; }
  uint32_t switches() const { return leaves_ + aggs_ + cores_; }
  uint32_t nodes() const { return hosts_ + switches(); }
  uint32_t ports() const { return port_count_; }
  uint32_t hosts_per_leaf() const { return down_; }
  uint32_t leaf_uplinks() const { return up_; }
  // Hosts the tree could hold with every leaf full (its capacity for this radix and ratio).
  uint64_t capacity() const;
  // Ideal bisection bandwidth per host as a fraction of its link (1 / oversubscription).
  double bisection_ratio() const { return double(up_) / double(down_) * link_bps() / host_bps(); }

  Tier tier(NodeId n) const;
  uint32_t port_count(NodeId n) const;
  PortId port(NodeId n, uint32_t local) const { return port_base(n) + local; }
  PortId port_base(NodeId n) const;
  NodeId owner(PortId p) const;
  uint32_t local(PortId p) const { return p - port_base(owner(p)); }
  // The port at the other end of p's link, or kNone if p is unwired (a host slot past the last host).
  PortId peer(PortId p) const;
  bool is_host_port(PortId p) const { return p < hosts_; }
  // Link properties of egress port p (host NIC links may differ from fabric links).
  double port_bps(PortId p) const;
  double host_bps() const { return host_bps_; }  // one plane's NIC port
  double link_bps() const { return link_bps_; }  // one plane's switch-to-switch links
  unsigned planes() const { return spec_.planes; }
  double nic_bps() const { return host_bps() * spec_.planes; }  // a host's ports over every plane
  uint64_t latency_ps() const { return spec_.latency_ps; }

  // Host placement (rail-aware).
  NodeId leaf_of(uint32_t host) const;
  uint32_t slot_of(uint32_t host) const;
  uint32_t host_at(uint32_t leaf_index, uint32_t slot) const;  // kNone if no host there
  uint32_t pod_of_leaf(uint32_t leaf_index) const { return spec_.tiers == 3 ? leaf_index / leaves_per_pod_ : 0; }
  uint32_t host_ip(uint32_t host) const { return 0x0A000000u + host; }  // 10.0.0.0/8, one address per host

  // Up/down routing at switch `n` toward host `dst`.
  Route route(NodeId n, uint32_t dst) const;
  // The full ECMP path from src to dst for `key` as egress ports (host NIC port first), computed on demand
  // with the same hash the emulator's ECMP uses.
  std::vector<PortId> ecmp_path(uint32_t src, uint32_t dst, const FlowKey& key) const;
  // Number of switch hops (links) on a shortest src->dst path.
  unsigned hop_count(uint32_t src, uint32_t dst) const;

  std::string describe() const;  // one line: tiers, radix, hosts, switches, links, ratio

 private:
  uint32_t leaf_index(NodeId n) const { return n - hosts_; }
  NodeId leaf_node(uint32_t i) const { return hosts_ + i; }
  NodeId agg_node(uint32_t i) const { return hosts_ + leaves_ + i; }
  NodeId core_node(uint32_t i) const { return hosts_ + leaves_ + aggs_ + i; }

  FatTreeSpec spec_;
  double link_bps_ = 0, host_bps_ = 0;  // a plane's
  uint32_t k_ = 0, down_ = 0, up_ = 0;
  uint32_t hosts_ = 0, leaves_ = 0, aggs_ = 0, cores_ = 0, pods_ = 1;
  uint32_t leaves_per_pod_ = 0;  // 3-tier: k/2; 2-tier: all leaves
  uint32_t agg_ports_ = 0, core_ports_ = 0;
  uint32_t leaf_base_ = 0, agg_base_ = 0, core_base_ = 0, port_count_ = 0;
};

}  // namespace rfab::topo
