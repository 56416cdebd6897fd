// Every collective x datatype x op x in-place/out-of-place x counts (0, 1, odd, non-multiple of the rank
// count, large) x rank counts 1..8, ranks as forked processes over shared memory, against a serial
// reference. Then every algorithm forced through RFAB_ALGO on a smaller matrix.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>

#include "coll_check.hpp"
#include "harness.hpp"
#include "matrix.hpp"

using namespace rfab::coll;
using namespace rfab::coll::test;

namespace {

void run_matrix(int n, const std::string& algo, const Scope& s, int seconds,
                const std::function<void(int)>& setup = nullptr) {
  std::string tag = algo.empty() ? "auto" : algo;
  for (char& ch : tag)
    if (ch == '=' || ch == ',') ch = '_';
  auto res = run_ranks(
      n,
      [&](int rank, const rfabUniqueId& id) {
        if (!algo.empty()) setenv("RFAB_ALGO", algo.c_str(), 1);
        setenv("RFAB_TIMEOUT", "20", 1);
        return rank_body(rank, n, id, tag, s);
      },
      std::chrono::seconds(seconds), setup);
  EXPECT_TRUE(all_ok(res)) << "algo=" << tag << " n=" << n << "\n" << describe(res);
}

std::vector<size_t> counts_for(int n, size_t large) {
  (void)n;
  return {0, 1, 7, 13, large};
}

}  // namespace

class FullMatrix : public ::testing::TestWithParam<int> {};

TEST_P(FullMatrix, EveryCollectiveTypeOpAndCount) {
  int n = GetParam();
  Scope s{{Coll::AllReduce, Coll::Reduce, Coll::ReduceScatter, Coll::Broadcast, Coll::AllGather, Coll::AllToAll,
           Coll::SendRecv, Coll::Barrier},
          {std::begin(kAllTypes), std::end(kAllTypes)},
          {std::begin(kAllOps), std::end(kAllOps)},
          counts_for(n, 20011)};
  run_matrix(n, "", s, 120);
}
INSTANTIATE_TEST_SUITE_P(Ranks, FullMatrix, ::testing::Range(1, 9));

// Each algorithm, forced, over the rank counts where its structure differs (powers of two and not).
struct AlgoCase {
  std::string env;
  Coll coll;
};

class ForcedAlgo : public ::testing::TestWithParam<std::tuple<AlgoCase, int>> {};

TEST_P(ForcedAlgo, MatchesReference) {
  auto [ac, n] = GetParam();
  Scope s{{ac.coll},
          {DataType::I32, DataType::U8, DataType::F16, DataType::F64},
          {RedOp::Sum, RedOp::Max},
          {0, 1, 7, 13, 50021}};
  run_matrix(n, ac.env, s, 90);
}

INSTANTIATE_TEST_SUITE_P(
    Algos, ForcedAlgo,
    ::testing::Combine(::testing::Values(AlgoCase{"allreduce=ring", Coll::AllReduce},
                                         AlgoCase{"allreduce=rhd", Coll::AllReduce},
                                         AlgoCase{"allreduce=rd", Coll::AllReduce},
                                         AlgoCase{"allreduce=tree", Coll::AllReduce},
                                         AlgoCase{"broadcast=tree", Coll::Broadcast},
                                         AlgoCase{"broadcast=chain", Coll::Broadcast},
                                         AlgoCase{"reduce=tree", Coll::Reduce},
                                         AlgoCase{"reduce=chain", Coll::Reduce},
                                         AlgoCase{"alltoall=pairwise", Coll::AllToAll},
                                         AlgoCase{"alltoall=bruck", Coll::AllToAll}),
                       ::testing::Values(2, 3, 5, 8)),
    [](const auto& pinfo) {
      std::string s = std::get<0>(pinfo.param).env + "_n" + std::to_string(std::get<1>(pinfo.param));
      for (char& c : s)
        if (c == '=') c = '_';
      return s;
    });

// Hierarchical allreduce: ranks pretend to be on different hosts (RFAB_HOSTNAME) while still sharing memory.
class Hierarchical : public ::testing::TestWithParam<std::tuple<int, int>> {};

TEST_P(Hierarchical, MatchesReference) {
  auto [n, per_host] = GetParam();
  Scope s{{Coll::AllReduce},
          {DataType::I32, DataType::F32, DataType::BF16},
          {RedOp::Sum, RedOp::Min, RedOp::Avg},
          {0, 1, 13, 40009}};
  run_matrix(n, "allreduce=hier", s, 90, [per_host = per_host](int rank) {
    std::string h = "host" + std::to_string(rank / per_host);
    setenv("RFAB_HOSTNAME", h.c_str(), 1);
  });
}
INSTANTIATE_TEST_SUITE_P(Hosts, Hierarchical,
                         ::testing::Values(std::tuple{4, 2}, std::tuple{6, 2}, std::tuple{7, 3}, std::tuple{8, 4}));

// Tiny rings (4 KiB): every transfer wraps and fills the ring many times, and datatypes of different sizes
// follow each other, so ring space is often not a multiple of the element size.
class TinyRings : public ::testing::TestWithParam<int> {};

TEST_P(TinyRings, MixedDatatypesThroughFullRings) {
  int n = GetParam();
  Scope s{{Coll::AllReduce, Coll::ReduceScatter, Coll::AllGather, Coll::AllToAll, Coll::Broadcast, Coll::Barrier},
          {DataType::I8, DataType::F64, DataType::BF16, DataType::U32},
          {RedOp::Sum, RedOp::Min},
          {1, 13, 3001}};
  run_matrix(n, "", s, 90, [](int) { setenv("RFAB_SHM_RING_BYTES", "4096", 1); });
}
INSTANTIATE_TEST_SUITE_P(Ranks, TinyRings, ::testing::Values(2, 3, 8));
