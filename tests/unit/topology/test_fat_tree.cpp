// Fat-tree construction, ids and routing: every wired port's peer points back, routes reach the destination
// in the shortest number of hops, and impossible specs fail with a message naming the problem.
#include <gtest/gtest.h>

#include <set>

#include "rfab/topology/fat_tree.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab::topo;

namespace {

FatTree make(std::string_view s) { return FatTree(parse_fat_tree(s)); }

// Walks every port: peer(peer(p)) == p, and owners of both ends sit in adjacent tiers.
void check_links(const FatTree& t) {
  uint64_t wired = 0;
  for (PortId p = 0; p < t.ports(); ++p) {
    PortId q = t.peer(p);
    if (q == kNone) continue;
    ++wired;
    ASSERT_LT(q, t.ports());
    ASSERT_EQ(t.peer(q), p) << "port " << p;
    int a = int(t.tier(t.owner(p))), b = int(t.tier(t.owner(q)));
    ASSERT_EQ(std::abs(a - b), 1) << "port " << p;
    ASSERT_EQ(t.port(t.owner(p), t.local(p)), p);
  }
  // Each host has one link; every switch-to-switch link counted from both ends.
  uint64_t expect = 2ull * t.hosts() + 2ull * t.leaves() * t.leaf_uplinks();
  if (t.tiers() == 3) expect += 2ull * t.aggs() * (t.radix() / 2);
  EXPECT_EQ(wired, expect);
}

}  // namespace

TEST(FatTree, K16ThreeTierCounts) {
  FatTree t = make("fat-tree:k=16,tiers=3,speed=400G");
  EXPECT_EQ(t.hosts(), 1024u);  // k^3/4
  EXPECT_EQ(t.leaves(), 128u);
  EXPECT_EQ(t.aggs(), 128u);
  EXPECT_EQ(t.cores(), 64u);  // (k/2)^2
  EXPECT_EQ(t.pods(), 16u);
  EXPECT_EQ(t.nodes(), 1024u + 320u);
  EXPECT_DOUBLE_EQ(t.bisection_ratio(), 1.0);
  check_links(t);
}

TEST(FatTree, TwoTierAndRadixFromSwitchCapacity) {
  FatTree t = make("fat-tree:tiers=2,speed=800G");  // 51.2T / 800G = 64 ports
  EXPECT_EQ(t.radix(), 64u);
  EXPECT_EQ(t.hosts(), 64u * 32u);
  EXPECT_EQ(t.aggs(), 32u);
  check_links(t);
  FatTree t4 = make("fat-tree:speed=400G,hosts=8000");  // fits 2 tiers at radix 128 (8192)
  EXPECT_EQ(t4.tiers(), 2u);
  EXPECT_EQ(t4.radix(), 128u);
}

TEST(FatTree, HundredThousandHostsPicksSmallestThreeTier) {
  FatTree t = make("fat-tree:hosts=100000,speed=400G");
  EXPECT_EQ(t.tiers(), 3u);
  EXPECT_EQ(t.radix(), 128u);
  EXPECT_EQ(t.hosts(), 100000u);
  EXPECT_EQ(t.pods(), 25u);  // ceil(100000 / (64*64))
  EXPECT_EQ(t.cores(), 64u * 64u);
  // Ids stay compact: ports are linear in the fabric, no N x N anything.
  EXPECT_LT(t.ports(), 700000u);
  // Spot-check routes across the whole id range rather than every port (fast).
  for (uint32_t s : {0u, 4095u, 4096u, 77777u, 99999u}) {
    for (uint32_t d : {1u, 64u, 50000u, 99998u}) {
      if (s == d) continue;
      FlowKey key{t.host_ip(s), t.host_ip(d), 0xC000, 4791, 17};
      auto path = t.ecmp_path(s, d, key);
      EXPECT_EQ(path.size(), t.hop_count(s, d));
      EXPECT_EQ(t.owner(t.peer(path.back())), d);
    }
  }
}

TEST(FatTree, OversubscriptionAndRails) {
  FatTree t = make("fat-tree:k=16,tiers=3,oversub=3");
  EXPECT_EQ(t.hosts_per_leaf(), 12u);
  EXPECT_EQ(t.leaf_uplinks(), 4u);
  EXPECT_DOUBLE_EQ(t.bisection_ratio(), 1.0 / 3.0);
  EXPECT_EQ(t.hosts(), 16u * 8u * 12u);
  check_links(t);

  FatTree r = make("fat-tree:k=16,tiers=3,rails=8");
  check_links(r);
  // The 8 NICs of a server land on 8 different leaves, NIC i always on a rail-i leaf.
  for (uint32_t server = 0; server < 4; ++server) {
    std::set<NodeId> leaves;
    for (uint32_t nic = 0; nic < 8; ++nic) {
      uint32_t h = server * 8 + nic;
      NodeId l = r.leaf_of(h);
      leaves.insert(l);
      EXPECT_EQ((l - r.hosts()) % 8, nic);
      EXPECT_EQ(r.host_at(l - r.hosts(), r.slot_of(h)), h);
    }
    EXPECT_EQ(leaves.size(), 8u);
  }
  // Same-rail NICs of servers 0..7 share a leaf: rail traffic stays one hop up.
  EXPECT_EQ(r.hop_count(0, 8), 2u);
  EXPECT_EQ(r.hop_count(0, 1), 4u);
}

TEST(FatTree, RoutesAreShortestAndValleyFree) {
  for (auto spec : {"fat-tree:k=8,tiers=3", "fat-tree:k=8,tiers=2", "fat-tree:k=12,tiers=3,oversub=2",
                    "fat-tree:k=16,tiers=3,rails=8,hosts=512"}) {
    FatTree t = make(spec);
    for (uint32_t s = 0; s < t.hosts(); s += 7) {
      for (uint32_t d = 0; d < t.hosts(); d += 5) {
        if (s == d) continue;
        FlowKey key{t.host_ip(s), t.host_ip(d), uint16_t(0xC000 + s), 4791, 17};
        auto path = t.ecmp_path(s, d, key);
        ASSERT_EQ(path.size(), t.hop_count(s, d)) << spec << " " << s << "->" << d;
        ASSERT_EQ(t.owner(t.peer(path.back())), d);
        // Tiers go up then down, never up after down.
        bool down = false;
        for (size_t i = 1; i < path.size(); ++i) {
          int a = int(t.tier(t.owner(path[i - 1]))), b = int(t.tier(t.owner(path[i])));
          if (b < a) down = true;
          ASSERT_FALSE(down && b > a) << spec;
        }
      }
    }
  }
}

TEST(FatTree, EcmpSpreadsOverUpPorts) {
  FatTree t = make("fat-tree:k=16,tiers=2");
  std::vector<int> hits(t.leaf_uplinks());
  NodeId leaf = t.leaf_of(0);
  for (uint16_t sport = 0; sport < 8000; ++sport) {
    FlowKey key{t.host_ip(0), t.host_ip(100), sport, 4791, 17};
    Route r = t.route(leaf, 100);
    ++hits[ecmp_hash(key, leaf) % r.count];
  }
  for (int h : hits) EXPECT_NEAR(h, 1000, 150);
}

TEST(FatTree, ImpossibleSpecsFailClearly) {
  auto msg = [](std::string_view s) {
    try {
      make(s);
    } catch (const TopologyError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("fat-tree:k=15,tiers=3").find("even"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,tiers=3,hosts=2000").find("exceeds"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,tiers=4").find("tiers"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,oversub=4").find("oversub"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=8,tiers=3,rails=8").find("rails"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,speed=fast").find("speed"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,color=red").find("unknown key 'color'"), std::string::npos);
  EXPECT_NE(msg("torus:k=4").find("not a known topology"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,k=8").find("twice"), std::string::npos);
  EXPECT_NE(msg("fat-tree:k=16,latency=5").find("unit"), std::string::npos);
}

// The keys are parsed by rfab/base/units.hpp: values that do not fit are refused, not wrapped.
TEST(FatTreeSpec, RejectsValuesThatWouldWrap) {
  EXPECT_THROW(parse_fat_tree("fat-tree:k=4294967312"), TopologyError);  // 2^32 + 16
  EXPECT_THROW(parse_fat_tree("fat-tree:k=16,speed=-400G"), TopologyError);
  EXPECT_THROW(parse_fat_tree("fat-tree:k=16,speed=0"), TopologyError);
  EXPECT_THROW(parse_fat_tree("fat-tree:k=16,latency=nan us"), TopologyError);
  EXPECT_EQ(parse_fat_tree("fat-tree:k=16,latency=1.5ns").latency_ps, 1500u);
  EXPECT_DOUBLE_EQ(parse_fat_tree("fat-tree:k=16,switch=51.2T").switch_bps, 51.2e12);
}

// An 800G NIC on 51.2T switches gives radix 64, whose 3 tiers hold 65,536 hosts; split over two planes of
// 400G the radix is 128 and 100,000 fit. The tree describes one plane and knows the NIC's speed.
TEST(FatTree, PlanesSplitTheNicSpeedAndRaiseTheRadix) {
  const char* spec = "fat-tree:hosts=100000,speed=800G,switch=51.2T,rails=8";
  try {
    make(spec);
    ADD_FAILURE() << "100,000 hosts at radix 64 must not fit";
  } catch (const TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("planes=N"), std::string::npos) << e.what();
  }
  FatTree t = make(std::string(spec) + ",planes=2");
  EXPECT_EQ(t.planes(), 2u);
  EXPECT_EQ(t.radix(), 128u);
  EXPECT_EQ(t.tiers(), 3u);
  EXPECT_EQ(t.hosts(), 100000u);
  EXPECT_DOUBLE_EQ(t.link_bps(), 400e9);
  EXPECT_DOUBLE_EQ(t.host_bps(), 400e9);
  EXPECT_DOUBLE_EQ(t.nic_bps(), 800e9);
  EXPECT_DOUBLE_EQ(t.spec().link_bps, 800e9);  // what the user gave stays
  EXPECT_NE(t.describe().find("2 planes"), std::string::npos) << t.describe();
  EXPECT_NE(t.describe().find("800G per NIC"), std::string::npos) << t.describe();
  // One plane is the single tree of the plane's speed, port for port.
  FatTree one = make("fat-tree:hosts=100000,speed=400G,switch=51.2T,rails=8");
  EXPECT_EQ(t.ports(), one.ports());
  EXPECT_EQ(t.describe().find(one.describe().substr(0, 20)) != std::string::npos, true);
  FatTree host_speed = make("fat-tree:k=8,speed=800G,host-speed=400G,planes=4");
  EXPECT_DOUBLE_EQ(host_speed.link_bps(), 200e9);
  EXPECT_DOUBLE_EQ(host_speed.host_bps(), 100e9);
  EXPECT_DOUBLE_EQ(host_speed.nic_bps(), 400e9);
  EXPECT_THROW(parse_fat_tree("fat-tree:k=8,planes=0"), TopologyError);
  EXPECT_THROW(parse_fat_tree("fat-tree:k=8,planes=9"), TopologyError);
  EXPECT_THROW(parse_fat_tree("fat-tree:k=8,planes=two"), TopologyError);
}
