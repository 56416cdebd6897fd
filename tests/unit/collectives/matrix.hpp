// The test matrix shared by the collective suites: a Scope (collectives x datatypes x ops x counts) run by
// every rank on one communicator, each case checked against the serial reference (coll_check.hpp).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "coll_check.hpp"

namespace rfab::coll::test {

inline constexpr DataType kAllTypes[] = {DataType::I8,  DataType::U8,   DataType::I32, DataType::U32, DataType::I64,
                                  DataType::U64, DataType::F16, DataType::BF16, DataType::F32, DataType::F64};
inline constexpr RedOp kAllOps[] = {RedOp::Sum, RedOp::Prod, RedOp::Min, RedOp::Max, RedOp::Avg};

inline bool reduces(Coll c) { return c == Coll::AllReduce || c == Coll::Reduce || c == Coll::ReduceScatter; }

struct Scope {
  std::vector<Coll> colls;
  std::vector<DataType> types;
  std::vector<RedOp> ops;
  std::vector<size_t> counts;
};

// Body of one rank: runs the whole scope on a communicator, reports mismatches, exits non-zero on any.
inline int rank_body(int rank, int n, const rfabUniqueId& id, const std::string& tag, const Scope& s) {
  rfabComm_t comm = nullptr;
  if (rfabCommInitRank(&comm, n, derive_id(id, tag), rank) != rfabSuccess) {
    std::fprintf(stderr, "rank %d: init failed: %s\n", rank, rfabGetLastError(nullptr));
    return 2;
  }
  int failures = 0, salt = 1;
  for (Coll c : s.colls)
    for (DataType t : s.types)
      for (RedOp op : reduces(c) ? s.ops : std::vector<RedOp>{RedOp::Sum})
        for (bool in_place : {false, true})
          for (size_t count : s.counts) {
            Case k{c, t, op, in_place, count, salt++};
            std::string why = run_case(comm, rank, n, k);
            if (!why.empty()) {
              if (++failures <= 5)
                std::fprintf(stderr, "[%s n=%d rank %d] %s: %s\n", tag.c_str(), n, rank, case_name(k).c_str(),
                             why.c_str());
              if (why.rfind("returned", 0) == 0) {  // a broken communicator fails everything after
                rfabCommDestroy(comm);
                return 1;
              }
            }
          }
  rfabCommDestroy(comm);
  return failures == 0 ? 0 : 1;
}

}  // namespace rfab::coll::test
