#include "rfab/topology/fat_tree.hpp"

#include <cmath>
#include <sstream>

namespace rfab::topo {
namespace {

[[noreturn]] void fail(const std::string& msg) { throw TopologyError("topology: " + msg); }

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

}  // namespace

uint32_t ecmp_hash(const FlowKey& key, NodeId node) {
  // splitmix64 finalizer over the packed 5-tuple and the switch id: cheap, and every input bit moves
  // every output bit, so a one-bit change of the UDP source port re-rolls the path.
  uint64_t x = (uint64_t{key.src_ip} << 32) ^ key.dst_ip;
  x ^= (uint64_t{key.src_port} << 48) ^ (uint64_t{key.dst_port} << 24) ^ (uint64_t{key.proto} << 16);
  x += 0x9E3779B97F4A7C15ull * (uint64_t{node} + 1);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  x ^= x >> 31;
  return uint32_t(x ^ (x >> 32));
}

FatTree::FatTree(const FatTreeSpec& spec) : spec_(spec) {
  if (spec_.link_bps <= 0) fail("speed must be positive");
  if (spec_.host_bps < 0) fail("host-speed must be positive");
  if (spec_.planes == 0 || spec_.planes > kMaxPlanes)
    fail("planes=" + std::to_string(spec_.planes) + " must be 1.." + std::to_string(kMaxPlanes));
  // A plane's links carry 1/planes of every NIC's speed; spec_ keeps what the user gave.
  link_bps_ = spec_.link_bps / spec_.planes;
  host_bps_ = (spec_.host_bps > 0 ? spec_.host_bps : spec_.link_bps) / spec_.planes;
  k_ = spec_.radix;
  if (k_ == 0) {
    double r = std::floor(spec_.switch_bps / link_bps_ + 1e-9);
    if (r < 2 || r > 4096) fail("switch capacity / speed gives an unusable radix");
    k_ = unsigned(r);
  }
  if (k_ < 2 || k_ % 2) fail("radix k=" + std::to_string(k_) + " must be even and >= 2");
  if (k_ > 4096) fail("radix k=" + std::to_string(k_) + " is larger than 4096");
  if (spec_.oversub == 0) fail("oversub must be >= 1");
  if (k_ % (spec_.oversub + 1))
    fail("oversub=" + std::to_string(spec_.oversub) + ":1 does not divide radix " + std::to_string(k_) +
         " (k must be a multiple of oversub+1)");
  down_ = k_ / (spec_.oversub + 1) * spec_.oversub;
  up_ = k_ / (spec_.oversub + 1);
  const unsigned rails = spec_.rails;
  if (rails == 1 || rails > 64) fail("rails=" + std::to_string(rails) + " must be 0 (plain) or 2..64");

  const uint64_t cap2 = uint64_t{k_} * down_;             // k leaves under up_ spines of radix k
  const uint64_t cap3 = uint64_t{k_} * (k_ / 2) * down_;  // k pods of k/2 leaves
  unsigned tiers = spec_.tiers;
  if (tiers == 0) tiers = (spec_.hosts != 0 && spec_.hosts <= cap2) ? 2 : 3;
  if (tiers != 2 && tiers != 3) fail("tiers=" + std::to_string(tiers) + " must be 2 or 3");
  spec_.tiers = tiers;
  const uint64_t cap = tiers == 2 ? cap2 : cap3;
  uint64_t hosts = spec_.hosts ? spec_.hosts : cap;
  if (hosts > cap)
    fail("hosts=" + std::to_string(hosts) + " exceeds the " + std::to_string(tiers) + "-tier capacity " +
         std::to_string(cap) + " of radix " + std::to_string(k_) +
         (tiers == 2 ? " (use tiers=3 or a larger radix)" : " (use a larger radix, or planes=N to split each NIC over N trees)"));
  if (hosts > 0xFFFFFFF0ull) fail("too many hosts");
  hosts_ = uint32_t(hosts);
  if (rails && hosts_ % rails) fail("hosts=" + std::to_string(hosts_) + " is not a multiple of rails=" + std::to_string(rails));

  if (tiers == 2) {
    leaves_ = uint32_t(ceil_div(hosts_, down_));
    if (rails) leaves_ = uint32_t(ceil_div(leaves_, rails) * rails);
    if (leaves_ > k_) fail("hosts=" + std::to_string(hosts_) + " with rails needs " + std::to_string(leaves_) + " leaves, more than radix " + std::to_string(k_));
    leaves_per_pod_ = leaves_;
    aggs_ = up_;  // spines, one link from every leaf
    cores_ = 0;
    pods_ = 1;
    agg_ports_ = leaves_;
  } else {
    leaves_per_pod_ = k_ / 2;
    if (rails && leaves_per_pod_ % rails)
      fail("rails=" + std::to_string(rails) + " needs k/2=" + std::to_string(leaves_per_pod_) +
           " leaves per pod to be a multiple of the rail count");
    uint64_t pod_hosts = uint64_t{leaves_per_pod_} * down_;
    pods_ = uint32_t(ceil_div(hosts_, pod_hosts));
    if (pods_ == 0) pods_ = 1;
    leaves_ = pods_ * leaves_per_pod_;
    aggs_ = pods_ * up_;
    cores_ = up_ * (k_ / 2);
    agg_ports_ = leaves_per_pod_ + k_ / 2;
    core_ports_ = pods_;
  }
  if (hosts_ == 0) fail("hosts must be > 0");
  leaf_base_ = hosts_;
  uint64_t total = uint64_t{hosts_} + uint64_t{leaves_} * (down_ + up_);
  agg_base_ = uint32_t(total);
  total += uint64_t{aggs_} * agg_ports_;
  core_base_ = uint32_t(total);
  total += uint64_t{cores_} * core_ports_;
  if (total >= 0xFFFFFFF0ull) fail("too many ports for 32-bit ids");
  port_count_ = uint32_t(total);
}

uint64_t FatTree::capacity() const {
  return spec_.tiers == 2 ? uint64_t{k_} * down_ : uint64_t{k_} * (k_ / 2) * down_;
}

Tier FatTree::tier(NodeId n) const {
  if (n < hosts_) return Tier::host;
  if (n < hosts_ + leaves_) return Tier::leaf;
  if (n < hosts_ + leaves_ + aggs_) return Tier::agg;
  return Tier::core;
}

uint32_t FatTree::port_count(NodeId n) const {
  switch (tier(n)) {
    case Tier::host: return 1;
    case Tier::leaf: return down_ + up_;
    case Tier::agg: return agg_ports_;
    case Tier::core: return core_ports_;
  }
  return 0;
}

PortId FatTree::port_base(NodeId n) const {
  switch (tier(n)) {
    case Tier::host: return n;
    case Tier::leaf: return leaf_base_ + (n - hosts_) * (down_ + up_);
    case Tier::agg: return agg_base_ + (n - hosts_ - leaves_) * agg_ports_;
    case Tier::core: return core_base_ + (n - hosts_ - leaves_ - aggs_) * core_ports_;
  }
  return kNone;
}

NodeId FatTree::owner(PortId p) const {
  if (p < leaf_base_) return p;
  if (p < agg_base_) return hosts_ + (p - leaf_base_) / (down_ + up_);
  if (p < core_base_) return hosts_ + leaves_ + (p - agg_base_) / agg_ports_;
  return hosts_ + leaves_ + aggs_ + (p - core_base_) / core_ports_;
}

double FatTree::port_bps(PortId p) const {
  if (p < hosts_) return host_bps();
  if (p < agg_base_ && (p - leaf_base_) % (down_ + up_) < down_) return host_bps();
  return link_bps();
}

NodeId FatTree::leaf_of(uint32_t h) const {
  if (!spec_.rails) return leaf_node(h / down_);
  uint32_t r = spec_.rails, server = h / r, rail = h % r;
  return leaf_node((server / down_) * r + rail);
}

uint32_t FatTree::slot_of(uint32_t h) const {
  if (!spec_.rails) return h % down_;
  return (h / spec_.rails) % down_;
}

uint32_t FatTree::host_at(uint32_t leaf, uint32_t slot) const {
  uint64_t h;
  if (!spec_.rails) {
    h = uint64_t{leaf} * down_ + slot;
  } else {
    uint32_t r = spec_.rails, block = leaf / r, rail = leaf % r;
    h = (uint64_t{block} * down_ + slot) * r + rail;
  }
  return h < hosts_ ? uint32_t(h) : kNone;
}

PortId FatTree::peer(PortId p) const {
  NodeId n = owner(p);
  uint32_t i = p - port_base(n);
  const uint32_t half = k_ / 2;
  switch (tier(n)) {
    case Tier::host:
      return port(leaf_of(n), slot_of(n));
    case Tier::leaf: {
      uint32_t l = leaf_index(n);
      if (i < down_) {
        uint32_t h = host_at(l, i);
        return h == kNone ? kNone : PortId(h);
      }
      uint32_t j = i - down_;
      if (spec_.tiers == 2) return port(agg_node(j), l);
      return port(agg_node(pod_of_leaf(l) * up_ + j), l % leaves_per_pod_);
    }
    case Tier::agg: {
      uint32_t a = n - hosts_ - leaves_;
      if (spec_.tiers == 2) return port(leaf_node(i), down_ + a);
      uint32_t pod = a / up_, j = a % up_;
      if (i < leaves_per_pod_) return port(leaf_node(pod * leaves_per_pod_ + i), down_ + j);
      return port(core_node(j * half + (i - leaves_per_pod_)), pod);
    }
    case Tier::core: {
      uint32_t c = n - hosts_ - leaves_ - aggs_;
      uint32_t j = c / half;
      return port(agg_node(i * up_ + j), leaves_per_pod_ + c % half);
    }
  }
  return kNone;
}

Route FatTree::route(NodeId n, uint32_t dst) const {
  NodeId dst_leaf = leaf_of(dst);
  switch (tier(n)) {
    case Tier::host: return {0, 1};
    case Tier::leaf:
      if (n == dst_leaf) return {slot_of(dst), 1};
      return {down_, up_};
    case Tier::agg: {
      uint32_t dl = dst_leaf - hosts_;
      if (spec_.tiers == 2) return {dl, 1};
      uint32_t pod = (n - hosts_ - leaves_) / up_;
      if (pod_of_leaf(dl) == pod) return {dl % leaves_per_pod_, 1};
      return {leaves_per_pod_, k_ / 2};
    }
    case Tier::core:
      return {pod_of_leaf(dst_leaf - hosts_), 1};
  }
  return {};
}

std::vector<PortId> FatTree::ecmp_path(uint32_t src, uint32_t dst, const FlowKey& key) const {
  if (src >= hosts_ || dst >= hosts_) throw TopologyError("topology: host id out of range");
  std::vector<PortId> path;
  PortId p = PortId(src);
  path.push_back(p);
  for (int guard = 0; guard < 8; ++guard) {
    NodeId n = owner(peer(p));
    if (n == dst) return path;
    Route r = route(n, dst);
    uint32_t choice = r.count == 1 ? 0 : ecmp_hash(key, n) % r.count;
    p = port(n, r.first + choice);
    path.push_back(p);
  }
  throw TopologyError("topology: no path (internal error)");
}

unsigned FatTree::hop_count(uint32_t src, uint32_t dst) const {
  if (src == dst) return 0;
  uint32_t ls = leaf_of(src) - hosts_, ld = leaf_of(dst) - hosts_;
  if (ls == ld) return 2;
  if (spec_.tiers == 2 || pod_of_leaf(ls) == pod_of_leaf(ld)) return 4;
  return 6;
}

std::string FatTree::describe() const {
  std::ostringstream o;
  if (spec_.planes > 1) o << spec_.planes << " planes, each a ";
  o << spec_.tiers << "-tier fat-tree, radix " << k_ << ", " << hosts_ << " hosts";
  if (spec_.rails) o << " (" << spec_.rails << " rails)";
  o << ", " << leaves_ << " leaves, " << aggs_ << (spec_.tiers == 2 ? " spines" : " aggs");
  if (spec_.tiers == 3) o << ", " << cores_ << " cores, " << pods_ << " pods";
  o << ", " << down_ << ":" << up_ << " leaf ratio, " << link_bps() / 1e9 << "G links";
  if (spec_.planes > 1) o << " (" << nic_bps() / 1e9 << "G per NIC)";
  return o.str();
}

}  // namespace rfab::topo
