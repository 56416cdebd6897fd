// Host lists: Slurm nodelists, host[:port] lines, self detection, and the sampling plan.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "ping_hosts.hpp"
#include "ping_plan.hpp"

namespace {
using namespace rfab::cli::ping;
using V = std::vector<std::string>;

TEST(Nodelist, ExpandsRangesListsAndPadding) {
  EXPECT_EQ(expand_nodelist("node[01-04,07]"), (V{"node01", "node02", "node03", "node04", "node07"}));
  EXPECT_EQ(expand_nodelist("a,b[8-11],c"), (V{"a", "b8", "b9", "b10", "b11", "c"}));
  EXPECT_EQ(expand_nodelist("n[098-101]"), (V{"n098", "n099", "n100", "n101"}));
  EXPECT_EQ(expand_nodelist("r[1-2]-g[1-2]"), (V{"r1-g1", "r1-g2", "r2-g1", "r2-g2"}));
  EXPECT_EQ(expand_nodelist("gpu[3]x"), (V{"gpu3x"}));
  EXPECT_EQ(expand_nodelist(" single "), (V{"single"}));
}

TEST(Nodelist, RefusesWhatItCannotMean) {
  for (const char* bad : {"", "n[1-", "n1-2]", "n[2-1]", "n[a-b]", "n[]", "n[1,,2]", "a,,b", "n[1-2[3]]", "n[-3]",
                          "n[1-99999999]"}) {
    try {
      expand_nodelist(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_GT(std::string(e.what()).size(), 10u) << bad;
    }
  }
  try {
    expand_nodelist("n[1-20000]");
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("16384"), std::string::npos) << e.what();
  }
}

TEST(HostLines, PortsCommentsAndIpv6) {
  const auto h = parse_host_lines("# mesh\nnode1\n\nnode2:7000  # rack 2\n[fd00::1]:7001\nfd00::2\n10.0.0.1:1\n", 18520);
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0].name, "node1");
  EXPECT_EQ(h[0].port, 18520);
  EXPECT_EQ(h[1].name, "node2");
  EXPECT_EQ(h[1].port, 7000);
  EXPECT_EQ(h[2].name, "fd00::1");
  EXPECT_EQ(h[2].port, 7001);
  EXPECT_EQ(h[3].name, "fd00::2");
  EXPECT_EQ(h[3].port, 18520);
  EXPECT_EQ(h[4].port, 1);
  for (const char* bad : {"a:0", "a:65536", "a:x", "[fd00::1", "[fd00::1]x", ":80", "a b"}) {
    try {
      parse_host_lines(std::string("ok\n") + bad + "\n", 1);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
    }
  }
}

TEST(HostLines, ResolvesAndFindsSelf) {
  const auto hosts = resolve_hosts(parse_host_lines("127.0.0.1:10\n127.0.0.2:10\nlocalhost:11\n", 1));
  ASSERT_EQ(hosts.size(), 3u);
  EXPECT_EQ(hosts[1].ip, "127.0.0.2");
  EXPECT_EQ(find_self(hosts, "", {"10.1.1.1", "127.0.0.2"}), 1u);
  EXPECT_EQ(find_self(hosts, "localhost", {}), 2u);
  EXPECT_THROW(find_self(hosts, "", {"10.9.9.9"}), std::invalid_argument);
  EXPECT_THROW(find_self(hosts, "", {"127.0.0.1"}), std::invalid_argument);  // two entries on 127.0.0.1
  EXPECT_THROW(find_self(hosts, "nosuch", {}), std::invalid_argument);
  EXPECT_THROW(resolve_hosts(parse_host_lines("127.0.0.1:10\n127.0.0.1:10\n", 1)), std::invalid_argument);
  EXPECT_THROW(resolve_hosts(parse_host_lines("no-such-host.invalid\n", 1)), std::invalid_argument);
}

TEST(HostLines, RanksOfRfabRun) {
  const auto h = rank_hosts(3, 20000, 5000);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[2].port, 20002);
  EXPECT_EQ(h[2].roce_port, 5002);
  const auto r = resolve_hosts(h);
  EXPECT_EQ(r[1].name, "rank1");
  EXPECT_EQ(r[1].ip, "127.0.0.1");
  EXPECT_THROW(rank_hosts(10, 65530, 1), std::invalid_argument);
}

TEST(Plan, AllPairsWithoutSampling) {
  EXPECT_EQ(targets_of(4, 1, 0, 7), (std::vector<size_t>{2, 3, 0}));
  EXPECT_EQ(targets_of(4, 1, 3, 7), (std::vector<size_t>{2, 3, 0}));  // a sample of everyone is everyone
}

TEST(Plan, SampleIsSeededAndBalanced) {
  const size_t n = 50, m = 5;
  std::map<size_t, size_t> as_dst;
  std::set<std::pair<size_t, size_t>> pairs;
  for (size_t s = 0; s < n; ++s) {
    const auto t = targets_of(n, s, m, 42);
    ASSERT_EQ(t.size(), m);
    EXPECT_EQ(t, targets_of(n, s, m, 42));  // every agent computes the same plan
    for (size_t d : t) {
      EXPECT_NE(d, s);
      EXPECT_TRUE(pairs.insert({s, d}).second) << "pair twice";
      ++as_dst[d];
    }
  }
  for (size_t h = 0; h < n; ++h) EXPECT_EQ(as_dst[h], m) << "host " << h;  // every host as often a target
  EXPECT_NE(targets_of(n, 0, m, 42), targets_of(n, 0, m, 43));
}

}  // namespace
