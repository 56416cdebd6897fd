#include <gtest/gtest.h>

#include <set>

#include "rfab/emu/traffic.hpp"
#include "rfab/topology/spec.hpp"

using namespace rfab;
using namespace rfab::emu;

namespace {
topo::FatTree tree16() { return topo::FatTree(topo::parse_fat_tree("fat-tree:k=16,tiers=3")); }
std::string error_of(std::string_view text) {
  try {
    parse_matrix(text, "m.txt", 16);
  } catch (const TrafficError& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Traffic, PermutationIsADerangementAndSeeded) {
  auto a = permutation(1024, 1000, 1), b = permutation(1024, 1000, 1), c = permutation(1024, 1000, 2);
  std::set<uint32_t> dsts;
  for (const auto& f : a) {
    EXPECT_NE(f.src, f.dst);
    dsts.insert(f.dst);
  }
  EXPECT_EQ(dsts.size(), 1024u);
  bool same = true, differs = false;
  for (size_t i = 0; i < a.size(); ++i) {
    same &= a[i].dst == b[i].dst;
    differs |= a[i].dst != c[i].dst;
  }
  EXPECT_TRUE(same);
  EXPECT_TRUE(differs);
}

TEST(Traffic, IncastSpreadsSendersOverLeaves) {
  auto t = tree16();
  auto flows = incast(t, 8, 0, 1 << 20);
  ASSERT_EQ(flows.size(), 8u);
  std::set<topo::NodeId> leaves;
  for (const auto& f : flows) {
    EXPECT_EQ(f.dst, 0u);
    leaves.insert(t.leaf_of(f.src));
  }
  EXPECT_EQ(leaves.size(), 8u);
  EXPECT_EQ(leaves.count(t.leaf_of(0)), 0u);
}

TEST(Traffic, RingStepsWaitForThePreviousChunk) {
  auto flows = ring_allreduce(4, 4000, 0);
  ASSERT_EQ(flows.size(), 6u * 4u);  // 2(H-1) steps
  EXPECT_EQ(flows[0].bytes, 1000u);
  EXPECT_EQ(flows[0].after, kNoFlow);
  // Step 1 at host 2 forwards what host 2 received at step 0 (flow 1: host 1 -> 2).
  EXPECT_EQ(flows[4 + 2].src, 2u);
  EXPECT_EQ(flows[4 + 2].after, 1u);
  EXPECT_EQ(flows[1].dst, 2u);
}

TEST(Traffic, MatrixParsesAndNamesBadLines) {
  auto f = parse_matrix("# src dst bytes start\n0 1 2M 0\n\n3 4 4096 1.5us  # comment\n", "m.txt", 16);
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].bytes, 2u << 20);
  EXPECT_EQ(f[1].start, 1'500'000u);
  EXPECT_EQ(error_of("0 1 2M 0\n0 1 2M\n"), "m.txt:2: expected 4 fields 'src dst bytes start_time', got 3");
  EXPECT_NE(error_of("0 99 1M 0\n").find("m.txt:1: dst 99 is not a host"), std::string::npos);
  EXPECT_NE(error_of("0 0 1M 0\n").find("m.txt:1: src and dst are the same"), std::string::npos);
  EXPECT_NE(error_of("0 1 lots 0\n").find("m.txt:1: bytes"), std::string::npos);
  EXPECT_NE(error_of("0 1 1M 10\n").find("m.txt:1: start_time"), std::string::npos);
  EXPECT_NE(error_of("# nothing\n").find("no flows"), std::string::npos);
  EXPECT_THROW(read_matrix("/nonexistent/matrix.txt", 16), TrafficError);
}

TEST(Traffic, SpecStrings) {
  auto t = tree16();
  EXPECT_EQ(make_traffic("permutation:bytes=2M", t, 1).size(), 1024u);
  EXPECT_EQ(make_traffic("incast:n=8,bytes=1M", t, 1).size(), 8u);
  EXPECT_EQ(make_traffic("permutation", t, 1)[0].bytes, kUnlimited);
  auto err = [&](std::string_view s) {
    try {
      make_traffic(s, t, 1);
    } catch (const TrafficError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(err("shuffle:bytes=1M").find("unknown pattern 'shuffle'"), std::string::npos);
  EXPECT_NE(err("permutation:bytes=1M,colour=red").find("unknown key 'colour'"), std::string::npos);
  EXPECT_NE(err("incast:n=5000").find("incast"), std::string::npos);
  EXPECT_NE(err("permutation:bytes=big").find("bytes"), std::string::npos);
}
