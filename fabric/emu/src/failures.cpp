#include "rfab/emu/failures.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "rfab/base/spec.hpp"
#include "rfab/base/units.hpp"

namespace rfab::emu {

namespace {

struct Tiers {
  topo::NodeId leaf0, agg0, core0;
};
Tiers tiers_of(const topo::FatTree& t) {
  return {t.hosts(), t.hosts() + t.leaves(), t.hosts() + t.leaves() + t.aggs()};
}

std::string name_of(topo::NodeId n, const topo::FatTree& t) {
  const Tiers b = tiers_of(t);
  if (n >= b.core0) return "core" + std::to_string(n - b.core0);
  if (n >= b.agg0) return (t.tiers() == 3 ? "agg" : "spine") + std::to_string(n - b.agg0);
  return "leaf" + std::to_string(n - b.leaf0);
}

bool is_switch_port_to_switch(topo::PortId p, const topo::FatTree& t) {
  const topo::PortId peer = t.peer(p);
  return peer != topo::kNone && t.owner(p) >= t.hosts() && t.owner(peer) >= t.hosts();
}

// Marks both ends of the link whose egress port is p; counts it once.
void fail_link(topo::PortId p, const topo::FatTree& t, std::vector<uint8_t>& down, FailureSet& out) {
  const topo::PortId peer = t.peer(p);
  if (down[p]) return;
  down[p] = down[peer] = 1;
  out.ports.push_back(p);
  out.ports.push_back(peer);
  ++out.links;
}

void fail_switch(topo::NodeId n, const topo::FatTree& t, std::vector<uint8_t>& down, FailureSet& out) {
  for (uint32_t l = 0; l < t.port_count(n); ++l) {
    const topo::PortId p = t.port(n, l);
    if (t.peer(p) != topo::kNone) fail_link(p, t, down, out);
  }
  ++out.switches;
}

std::vector<topo::NodeId> failable_switches(const topo::FatTree& t) {
  std::vector<topo::NodeId> v;
  for (topo::NodeId n = tiers_of(t).agg0; n < t.nodes(); ++n) v.push_back(n);
  return v;
}

}  // namespace

topo::NodeId switch_by_name(std::string_view name, const topo::FatTree& t) {
  const Tiers b = tiers_of(t);
  struct Tier {
    std::string_view prefix;
    topo::NodeId base;
    uint32_t count;
  };
  const Tier tiers[] = {{"leaf", b.leaf0, t.leaves()},
                        {t.tiers() == 3 ? "agg" : "spine", b.agg0, t.aggs()},
                        {"core", b.core0, t.tiers() == 3 ? t.cores() : 0}};
  for (const Tier& tier : tiers) {
    if (name.substr(0, tier.prefix.size()) != tier.prefix) continue;
    const std::string_view digits = name.substr(tier.prefix.size());
    uint64_t i = 0;
    try {
      i = parse_u64(digits);
    } catch (const ParseError&) {
      throw FailureError("fail: '" + std::string(name) + "': expected " + std::string(tier.prefix) + "N");
    }
    if (i >= tier.count)
      throw FailureError("fail: '" + std::string(name) + "': this tree has " + std::to_string(tier.count) + " " +
                         std::string(tier.prefix) + " switches (" + std::string(tier.prefix) + "0.." +
                         std::string(tier.prefix) + std::to_string(tier.count == 0 ? 0 : tier.count - 1) + ")");
    return tier.base + topo::NodeId(i);
  }
  throw FailureError("fail: '" + std::string(name) + "' is not a switch name (leafN, " +
                     (t.tiers() == 3 ? "aggN, coreN" : "spineN") + ")");
}

FailureSet parse_failures(std::string_view spec, const topo::FatTree& t, uint64_t seed) {
  FailureSet out;
  std::vector<uint8_t> down(t.ports(), 0);
  std::mt19937_64 rng(seed ^ 0xFA11u);
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t end = std::min(spec.find(';', pos), spec.size());
    const std::string_view item = spec.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) {
      if (end == spec.size() && !out.ports.empty()) break;
      throw FailureError("fail: an empty item in '" + std::string(spec) + "' (items are separated by ';')");
    }
    const size_t colon = item.find(':');
    if (colon == std::string_view::npos)
      throw FailureError("fail: '" + std::string(item) +
                         "' is not kind:value (link:leaf0-agg1, switch:core2, random-links:0.01, random-switches:2)");
    const std::string_view kind = item.substr(0, colon), value = item.substr(colon + 1);
    if (kind == "link") {
      const size_t dash = value.find('-');
      if (dash == std::string_view::npos)
        throw FailureError("fail: '" + std::string(item) + "': expected link:A-B, e.g. link:leaf0-agg1");
      const topo::NodeId a = switch_by_name(value.substr(0, dash), t), b = switch_by_name(value.substr(dash + 1), t);
      bool found = false;
      for (uint32_t l = 0; l < t.port_count(a); ++l) {
        const topo::PortId p = t.port(a, l);
        if (t.peer(p) != topo::kNone && t.owner(t.peer(p)) == b) {
          fail_link(p, t, down, out);
          found = true;
        }
      }
      if (!found)
        throw FailureError("fail: '" + std::string(item) + "': " + name_of(a, t) + " and " + name_of(b, t) +
                           " are not linked");
    } else if (kind == "switch") {
      const topo::NodeId n = switch_by_name(value, t);
      if (n < tiers_of(t).agg0)
        throw FailureError("fail: '" + std::string(item) +
                           "': hosts are single-homed to their leaf; fail the leaf's uplinks (link:leafN-aggM) instead");
      fail_switch(n, t, down, out);
    } else if (kind == "random-links") {
      double f = 0;
      try {
        f = parse_fraction(value);
      } catch (const ParseError& e) {
        throw FailureError("fail: '" + std::string(item) + "': " + e.reason());
      }
      std::vector<topo::PortId> links;
      for (topo::PortId p = 0; p < t.ports(); ++p)
        if (is_switch_port_to_switch(p, t) && p < t.peer(p)) links.push_back(p);
      std::shuffle(links.begin(), links.end(), rng);
      const size_t n = size_t(std::llround(f * double(links.size())));
      for (size_t i = 0; i < n; ++i) fail_link(links[i], t, down, out);
    } else if (kind == "random-switches") {
      uint64_t n = 0;
      try {
        n = parse_u64(value);
      } catch (const ParseError& e) {
        throw FailureError("fail: '" + std::string(item) + "': " + e.reason());
      }
      std::vector<topo::NodeId> sw = failable_switches(t);
      if (n > sw.size())
        throw FailureError("fail: '" + std::string(item) + "': the tree has only " + std::to_string(sw.size()) +
                           " aggregation/spine and core switches");
      std::shuffle(sw.begin(), sw.end(), rng);
      for (uint64_t i = 0; i < n; ++i) fail_switch(sw[i], t, down, out);
    } else {
      throw FailureError("fail: unknown kind '" + std::string(kind) +
                         "' (link, switch, random-links, random-switches)");
    }
  }
  return out;
}

Reachability::Reachability(const topo::FatTree& tree, std::vector<uint8_t> port_down)
    : tree_(tree), port_down_(std::move(port_down)), memo_(size_t(tree.switches()) * tree.leaves(), 0) {}

bool Reachability::viable(topo::NodeId node, uint32_t local, uint32_t dst) {
  const topo::PortId p = tree_.port(node, local);
  return !down(p) && reachable(tree_.owner(tree_.peer(p)), dst);
}

bool Reachability::reachable(topo::NodeId node, uint32_t dst) {
  if (node < tree_.hosts()) return node == dst;
  const topo::NodeId dst_leaf = tree_.leaf_of(dst);
  if (node == dst_leaf) return !down(tree_.port(node, tree_.route(node, dst).first));
  uint8_t& m = memo_[size_t(node - tree_.hosts()) * tree_.leaves() + (dst_leaf - tree_.hosts())];
  if (m == 0) {
    const topo::Route r = tree_.route(node, dst);
    bool any = false;
    for (uint32_t i = 0; i < r.count && !any; ++i) any = viable(node, r.first + i, dst);
    m = any ? 1 : 2;
  }
  return m == 1;
}

}  // namespace rfab::emu
