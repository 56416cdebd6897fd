// The measurement loop behind `rfab coll` (nccl-tests layout): per size, warm-up, timed iterations,
// validation against a known result, out-of-place and in-place. Separate from the CLI parsing so the same
// loop can be driven from benchmarks.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "rfab/collectives/communicator.hpp"

namespace rfab::cli {

struct CollBenchOptions {
  coll::Coll coll = coll::Coll::AllReduce;
  size_t min_bytes = 8, max_bytes = 256u << 20;
  double factor = 2;
  size_t step_bytes = 0;  // -i: add instead of multiply when > 0
  int iters = 20, warmup = 5;
  bool check = true;
  coll::DataType dtype = coll::DataType::F32;
  coll::RedOp op = coll::RedOp::Sum;
  int root = 0;
  coll::Algo algo = coll::Algo::Auto;
};

struct CollResult {
  double time_us = 0, algbw = 0, busbw = 0;
  // CPU time per call of the timed loop, user and kernel, averaged over the ranks.
  double cpu_user_us = 0, cpu_sys_us = 0;
  long wrong = 0;
};

struct CollRow {
  size_t bytes = 0, count = 0;
  int root = -1;
  std::string algo;
  CollResult oop, ip;
};

// nccl-tests's bus bandwidth factor for the collective at n ranks.
double busbw_factor(coll::Coll c, int n);
// Runs every size; collective over `comm` (every rank calls it).
std::vector<CollRow> run_coll_bench(coll::Communicator& comm, const CollBenchOptions& o);

}  // namespace rfab::cli
