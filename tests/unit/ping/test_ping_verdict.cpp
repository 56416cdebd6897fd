// The verdict on synthetic matrices: clean, a host down, a lossy host, a pair, a path, two hosts.
#include <gtest/gtest.h>

#include "ping_plan.hpp"
#include "ping_stats.hpp"
#include "ping_verdict.hpp"

namespace {
using namespace rfab::cli::ping;

// n hosts, K entropies, `count` probes each, everything clean; tests then break parts of it.
Matrix mesh(size_t n, size_t k = 4, uint64_t count = 20, size_t sample = 0) {
  Matrix m;
  for (size_t i = 0; i < n; ++i) m.hosts.push_back("h" + std::to_string(i));
  m.reported.assign(n, true);
  for (size_t s = 0; s < n; ++s)
    for (size_t d : targets_of(n, s, sample, 9)) {
      PairResult p;
      p.src = s;
      p.dst = d;
      p.reached = true;
      for (size_t e = 0; e < k; ++e) p.entropies.push_back({static_cast<uint16_t>(49152 + e), count, 0, 0, 0, 0, {count, 10, 20, 30}});
      m.pairs.push_back(p);
    }
  return m;
}

PairResult& pair(Matrix& m, size_t s, size_t d) {
  for (auto& p : m.pairs)
    if (p.src == s && p.dst == d) return p;
  throw std::logic_error("no such pair");
}

void lose(PairResult& p, size_t entropy, uint64_t n) { p.entropies[entropy].lost = n; }

TEST(Verdict, CleanMeshIsOk) {
  const Verdict v = judge(mesh(4), 0);
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.pairs, 12u);
  EXPECT_EQ(v.bad_pairs, 0u);
}

TEST(Verdict, DeadHostIsNamedAlone) {
  Matrix m = mesh(4);
  // Host 2's agent never ran: no row from it, every pair towards it unreached.
  m.reported[2] = false;
  std::erase_if(m.pairs, [](const PairResult& p) { return p.src == 2; });
  for (auto& p : m.pairs)
    if (p.dst == 2) {
      p.reached = false;
      p.error = "side channel: connection refused";
      for (auto& e : p.entropies) e.lost = e.sent;
    }
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 1u) << v.findings[1].text;
  EXPECT_EQ(v.findings[0].kind, Finding::Kind::host);
  EXPECT_EQ(v.findings[0].host, 2u);
  EXPECT_NE(v.findings[0].text.find("no report"), std::string::npos) << v.findings[0].text;
  EXPECT_EQ(v.bad_pairs, 3u);
}

TEST(Verdict, AnIsolatedHostBlamesItselfNotEveryoneElse) {
  Matrix m = mesh(4);
  // Host 0's view when its own link is down: only its row, every pair unreached, nobody reported.
  std::erase_if(m.pairs, [](const PairResult& p) { return p.src != 0; });
  for (auto& p : m.pairs) p.reached = false;
  m.reported.assign(4, false);
  m.reported[0] = true;
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].kind, Finding::Kind::host);
  EXPECT_EQ(v.findings[0].host, 0u);
  EXPECT_NE(v.findings[0].text.find("cut off"), std::string::npos) << v.findings[0].text;
  // With two hosts a silent, unreachable peer is that peer.
  Matrix two = mesh(2);
  std::erase_if(two.pairs, [](const PairResult& p) { return p.src != 0; });
  two.pairs[0].reached = false;
  two.reported[1] = false;
  const Verdict w = judge(two, 0);
  ASSERT_EQ(w.findings.size(), 1u);
  EXPECT_EQ(w.findings[0].host, 1u);
}

TEST(Verdict, HostWithLossOnEveryPairIsTheHost) {
  Matrix m = mesh(4);
  for (auto& p : m.pairs)
    if (p.src == 1 || p.dst == 1) lose(p, p.src % 4, 2);  // a few probes on one entropy of each of its pairs
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].kind, Finding::Kind::host);
  EXPECT_EQ(v.findings[0].host, 1u);
}

TEST(Verdict, OnePairDownIsThePair) {
  Matrix m = mesh(4);
  for (size_t e = 0; e < 4; ++e) lose(pair(m, 0, 3), e, 20);
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].kind, Finding::Kind::pair);
  EXPECT_EQ(v.findings[0].src, 0u);
  EXPECT_EQ(v.findings[0].dst, 3u);
}

TEST(Verdict, SomeEntropiesLossyIsAPathNamingThem) {
  Matrix m = mesh(4, 8);
  lose(pair(m, 1, 2), 3, 20);
  lose(pair(m, 1, 2), 6, 7);
  lose(pair(m, 2, 1), 3, 1);
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 2u);
  for (const Finding& f : v.findings) EXPECT_EQ(f.kind, Finding::Kind::path) << f.text;
  EXPECT_EQ(v.findings[0].entropies, (std::vector<size_t>{3, 6}));
  EXPECT_NE(v.findings[0].text.find("49155"), std::string::npos) << v.findings[0].text;  // the source port named
  EXPECT_EQ(v.findings[1].entropies, (std::vector<size_t>{3}));
}

TEST(Verdict, LossThresholdTolerates) {
  Matrix m = mesh(3, 4, 100);
  lose(pair(m, 0, 1), 0, 1);  // 1%
  EXPECT_FALSE(judge(m, 0).ok());
  EXPECT_TRUE(judge(m, 0.01).ok());
  EXPECT_FALSE(judge(m, 0.009).ok());
}

TEST(Verdict, TwoHostsCannotBlameAHost) {
  Matrix m = mesh(2);
  for (auto& p : m.pairs)
    for (auto& e : p.entropies) e.lost = e.sent;
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 2u);
  for (const Finding& f : v.findings) EXPECT_EQ(f.kind, Finding::Kind::pair);
}

TEST(Verdict, EverythingBadBlamesNoHost) {
  Matrix m = mesh(4);
  for (auto& p : m.pairs) lose(p, 0, 1);  // a fabric-wide problem: no host explains it, every pair is named
  const Verdict v = judge(m, 0);
  EXPECT_EQ(v.findings.size(), 12u);
  for (const Finding& f : v.findings) EXPECT_EQ(f.kind, Finding::Kind::path);
}

TEST(Verdict, SampledMeshLocalisesADeadHost) {
  Matrix m = mesh(40, 4, 10, 3);
  EXPECT_EQ(m.pairs.size(), 120u);
  m.reported[17] = false;
  std::erase_if(m.pairs, [](const PairResult& p) { return p.src == 17; });
  size_t towards = 0;
  for (auto& p : m.pairs)
    if (p.dst == 17) {
      ++towards;
      p.reached = false;
    }
  EXPECT_EQ(towards, 3u);
  const Verdict v = judge(m, 0);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].host, 17u);
}

TEST(Stats, NearestRankQuantiles) {
  std::vector<double> r;
  for (int i = 100; i >= 1; --i) r.push_back(i);
  const Latency l = summarize(r);
  EXPECT_EQ(l.samples, 100u);
  EXPECT_EQ(l.p50_us, 50);
  EXPECT_EQ(l.p99_us, 99);
  EXPECT_EQ(l.max_us, 100);
  EXPECT_EQ(summarize({7}).p99_us, 7);
  EXPECT_EQ(summarize({}).samples, 0u);
}

}  // namespace
