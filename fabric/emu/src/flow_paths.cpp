#include "rfab/emu/flow_paths.hpp"

#include "rfab/emu/ecmp_routing.hpp"
#include "rfab/emu/flow_entropy.hpp"
#include "rfab/emu/packet.hpp"
#include "rfab/emu/routing_policy.hpp"
#include "rfab/emu/spray_cover.hpp"

namespace rfab::emu {

FlowPaths::FlowPaths(const topo::FatTree& tree, const EmuConfig& cfg) : tree_(tree), cfg_(cfg) {
  const uint32_t wire = cfg.mtu + cfg.header_bytes + cfg.framing_bytes;
  goodput_ = double(cfg.mtu) / double(wire);
  frame_ps_ = Picos(double(wire) * 8.0 / tree.link_bps() * 1e12 + 0.5);
  plane_links_ = tree.ports();
  bundled_ = cfg.routing == Routing::ar;
  if (!bundled_) return;
  const uint32_t L = tree.leaves(), P = tree.tiers() == 3 ? tree.pods() : 0;
  leaf_up_ = plane_links_;
  agg_down_ = leaf_up_ + L;
  pod_up_ = agg_down_ + L;
  core_down_ = pod_up_ + P;
  plane_links_ = core_down_ + P;
  leaf_up_count_ = tree.leaf_uplinks();
  if (tree.tiers() == 3 && tree.pods() > 1) {
    // An aggregation switch's up-ports toward another pod, read from the routing itself.
    const uint32_t far = remote_host(0);
    const topo::NodeId agg = up_neighbour(tree.leaf_of(host_on_leaf(0)), far);
    agg_up_count_ = tree.route(agg, far).count;
  }
}

double FlowPaths::capacity(uint32_t link) const {
  link %= plane_links_;
  const double link_Bps = tree_.link_bps() / 8.0 * 1e-12;  // bytes per picosecond
  if (link < tree_.ports()) return tree_.port_bps(link) / 8.0 * 1e-12;
  if (link < pod_up_) return link_Bps * leaf_up_count_;       // a leaf's up-links, or the links into a leaf
  return link_Bps * leaf_up_count_ * agg_up_count_;           // a pod's links to the cores, or theirs into it
}

void FlowPaths::path(uint32_t flow, uint32_t src, uint32_t dst, std::vector<LinkShare>& out) const {
  const uint32_t planes = tree_.planes();
  for (uint32_t plane = 0; plane < planes; ++plane) {
    const size_t first = out.size();
    plane_path(flow, plane, src, dst, 1.0 / planes, out);
    for (size_t i = first; i < out.size(); ++i) out[i].link += plane * plane_links_;
  }
}

void FlowPaths::plane_path(uint32_t flow, uint32_t plane, uint32_t src, uint32_t dst, double share,
                           std::vector<LinkShare>& out) const {
  if (bundled_) return bundle_path(src, dst, share, out);
  // Another plane's switches hash another QP's entropy: salt the seed by the plane (plane 0 unsalted).
  const uint64_t seed = cfg_.seed ^ (uint64_t{plane} * 0xD6E8FEB86659FD93ull);
  const uint16_t base = flow_entropy(flow, seed);
  std::vector<uint16_t> cover;
  if (cfg_.spray_paths > 1 && cfg_.spray_cover) cover = covering_ports(tree_, src, dst, base, cfg_.spray_paths);
  const uint32_t n = !cover.empty() ? uint32_t(cover.size()) : cfg_.spray_paths > 1 ? cfg_.spray_paths : 1;
  const size_t first = out.size();
  for (uint32_t i = 0; i < n; ++i) {
    const uint16_t sport = !cover.empty() ? cover[i] : n > 1 ? spray_port(base, i) : base;
    ecmp_path(src, dst, sport, share / n, out);
  }
  if (n == 1) return;
  // Sprayed paths share links (always the host links): one entry per link, shares summed.
  std::vector<LinkShare> merged;
  for (size_t i = first; i < out.size(); ++i) {
    bool found = false;
    for (LinkShare& m : merged)
      if (m.link == out[i].link) {
        m.share += out[i].share;
        found = true;
        break;
      }
    if (!found) merged.push_back(out[i]);
  }
  out.resize(first);
  out.insert(out.end(), merged.begin(), merged.end());
}

void FlowPaths::ecmp_path(uint32_t src, uint32_t dst, uint16_t sport, double share, std::vector<LinkShare>& out) const {
  // The packet-level Router's decision, hop by hop, for a packet with these header fields.
  thread_local std::vector<topo::PortId> ports;
  ports.clear();
  ecmp_walk(tree_, src, dst, sport, ports);
  for (topo::PortId p : ports) out.push_back({p, share});
}

void FlowPaths::bundle_path(uint32_t src, uint32_t dst, double share, std::vector<LinkShare>& out) const {
  const topo::NodeId ls = tree_.leaf_of(src), ld = tree_.leaf_of(dst);
  const uint32_t li_s = ls - tree_.hosts(), li_d = ld - tree_.hosts();
  out.push_back({src, share});
  if (ls != ld) {
    out.push_back({leaf_up_ + li_s, share});
    const uint32_t ps = tree_.pod_of_leaf(li_s), pd = tree_.pod_of_leaf(li_d);
    if (tree_.tiers() == 3 && ps != pd) {
      out.push_back({pod_up_ + ps, share});
      out.push_back({core_down_ + pd, share});
    }
    out.push_back({agg_down_ + li_d, share});
  }
  out.push_back({tree_.port(ld, tree_.route(ld, dst).first), share});
}

Picos FlowPaths::delay(uint32_t src, uint32_t dst) const {
  const unsigned hops = tree_.hop_count(src, dst);
  return Picos(hops) * tree_.latency_ps() + Picos(hops > 0 ? hops - 1 : 0) * frame_ps_;
}

topo::NodeId FlowPaths::up_neighbour(topo::NodeId n, uint32_t remote) const {
  return tree_.owner(tree_.peer(tree_.port(n, tree_.route(n, remote).first)));
}

uint32_t FlowPaths::host_on_leaf(uint32_t leaf_index) const {
  for (uint32_t slot = 0; slot < tree_.hosts_per_leaf(); ++slot)
    if (uint32_t h = tree_.host_at(leaf_index, slot); h != topo::kNone) return h;
  return topo::kNone;
}

uint32_t FlowPaths::remote_host(uint32_t pod) const {
  for (uint32_t l = 0; l < tree_.leaves(); ++l)
    if (tree_.tiers() == 2 || tree_.pod_of_leaf(l) != pod)
      if (uint32_t h = host_on_leaf(l); h != topo::kNone) return h;
  return topo::kNone;
}

std::vector<topo::PortId> FlowPaths::ports_of(uint32_t link) const {
  link %= plane_links_;  // every plane's link stands for the same port ids
  if (link < tree_.ports()) return {link};
  std::vector<topo::PortId> out;
  auto up_ports = [&](topo::NodeId n, uint32_t far) {
    const topo::Route r = tree_.route(n, far);
    for (uint32_t i = 0; i < r.count; ++i) out.push_back(tree_.port(n, r.first + i));
  };
  // The aggregation switches above leaf `li` (one per leaf up-port).
  auto aggs_above = [&](uint32_t li, uint32_t far) {
    std::vector<topo::NodeId> aggs;
    const topo::NodeId leaf = tree_.hosts() + li;
    const topo::Route r = tree_.route(leaf, far);
    for (uint32_t i = 0; i < r.count; ++i) aggs.push_back(tree_.owner(tree_.peer(tree_.port(leaf, r.first + i))));
    return aggs;
  };
  const uint32_t per_pod = tree_.tiers() == 3 ? tree_.radix() / 2 : tree_.leaves();
  auto first_leaf_with_host = [&](uint32_t pod) {
    for (uint32_t l = pod * per_pod; l < tree_.leaves() && l < (pod + 1) * per_pod; ++l)
      if (host_on_leaf(l) != topo::kNone) return l;
    return topo::kNone;
  };
  if (link < agg_down_) {  // leaf up-links
    const uint32_t li = link - leaf_up_;
    // A leaf's up-ports are the same toward any host not below it; find one that is not.
    uint32_t other = topo::kNone;
    for (uint32_t l = 0; l < tree_.leaves() && other == topo::kNone; ++l)
      if (l != li) other = host_on_leaf(l);
    if (other != topo::kNone) up_ports(tree_.hosts() + li, other);
  } else if (link < pod_up_) {  // links into a leaf from the switches above it
    const uint32_t li = link - agg_down_, h = host_on_leaf(li);
    if (h == topo::kNone) return out;
    uint32_t other = topo::kNone;
    for (uint32_t l = 0; l < tree_.leaves() && other == topo::kNone; ++l)
      if (l != li) other = host_on_leaf(l);
    if (other == topo::kNone) return out;
    for (topo::NodeId agg : aggs_above(li, other)) out.push_back(tree_.port(agg, tree_.route(agg, h).first));
  } else if (link < core_down_) {  // a pod's links to the cores
    const uint32_t pod = link - pod_up_, li = first_leaf_with_host(pod), far = remote_host(pod);
    if (li == topo::kNone || far == topo::kNone) return out;
    for (topo::NodeId agg : aggs_above(li, far)) up_ports(agg, far);
  } else {  // the cores' links into a pod
    const uint32_t pod = link - core_down_, li = first_leaf_with_host(pod), far = remote_host(pod);
    if (li == topo::kNone || far == topo::kNone) return out;
    const uint32_t h = host_on_leaf(li);
    // Every core reaches the pod over one link: walk the cores through a remote pod's aggregation switches.
    const uint32_t far_li = tree_.leaf_of(far) - tree_.hosts();
    for (topo::NodeId agg : aggs_above(far_li, h)) {
      const topo::Route r = tree_.route(agg, h);
      for (uint32_t i = 0; i < r.count; ++i) {
        const topo::NodeId core = tree_.owner(tree_.peer(tree_.port(agg, r.first + i)));
        out.push_back(tree_.port(core, tree_.route(core, h).first));
      }
    }
  }
  return out;
}

}  // namespace rfab::emu
