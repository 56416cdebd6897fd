// rfab coll allreduce|allgather|reducescatter|alltoall|broadcast|reduce|sendrecv: nccl-tests's flags and
// output layout over rfab's collectives, out-of-place and in-place side by side. Runs under `rfab run -n N`
// or any launcher whose environment rfab understands (torchrun, Slurm, OpenMPI); alone it is one rank.
// Only rank 0 prints. Exit 1 when a result was wrong.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "checked_options.hpp"
#include "coll_bench.hpp"
#include "commands.hpp"
#include "rfab/base/memory_limit.hpp"
#include "rfab/base/units.hpp"
#include "rfab/collectives/launch_env.hpp"

namespace rfab::cli {
namespace {

struct CollCliOptions {
  std::string which;
  std::string min_bytes = "32M", max_bytes = "32M", step_bytes;
  double factor = 2;
  int iters = 20, warmup = 5, check = 1, root = 0;
  std::string dtype = "float", op = "sum", algo = "auto";
  uint64_t max_memory = 0;  // 0: MemoryLimit::default_limit()
  bool json = false;
};

// What the ranks on this host allocate for the largest row: every rank holds a send and a receive buffer
// of the largest size, and the collectives stage up to as much again (chunks in flight, shared memory).
uint64_t estimate_host_memory(uint64_t max_bytes, int local_ranks) {
  const uint64_t per_rank = 3 * (max_bytes + 64);
  return per_rank * static_cast<uint64_t>(std::max(1, local_ranks));
}

// nccl-tests' -b/-e/-i: "8", "64K", "4M", "1G" (powers of 1024, docs/units.md), at most 64 GiB.
size_t size_arg(const std::string& s, const char* flag) {
  try {
    return static_cast<size_t>(parse_size(s, flag));
  } catch (const ParseError& e) {
    throw ExitError{2, e.what()};
  }
}

size_t bounded_size(const std::string& s, const char* flag) {
  const size_t v = size_arg(s, flag);
  if (v > (size_t{64} << 30)) throw ExitError{2, std::string(flag) + " '" + s + "': not a size between 0 and 64G"};
  return v;
}

void print_text(const coll::Communicator& comm, const CollBenchOptions& o, const CollCliOptions& c,
                const std::vector<CollRow>& rows) {
  std::printf("# rfab coll %s: nranks %d (%d host%s), minBytes %zu maxBytes %zu step: %g(factor) warmup iters: %d "
              "iters: %d validation: %d\n#\n",
              c.which.c_str(), comm.size(), comm.nhosts(), comm.nhosts() == 1 ? "" : "s", o.min_bytes, o.max_bytes,
              o.factor, o.warmup, o.iters, o.check ? 1 : 0);
  std::printf("# Using ranks\n");
  for (int r = 0; r < comm.size(); ++r)
    std::printf("#  Rank %2d Host %s\n", r, comm.host_of(r).c_str());
  std::printf("#\n");
  std::printf("# %58s %-31s %s\n", "", "out-of-place", "in-place");
  std::printf("# %10s %12s %8s %6s %6s %8s %7s %7s %6s %8s %7s %7s %6s  %s\n", "size", "count", "type", "redop",
              "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong", "algo");
  std::printf("# %10s %12s %8s %6s %6s %8s %7s %7s %6s %8s %7s %7s %6s\n", "(B)", "(elements)", "", "", "", "(us)",
              "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
  double sum_bw = 0;
  long wrong = 0;
  bool reduces = o.coll == coll::Coll::AllReduce || o.coll == coll::Coll::Reduce ||
                 o.coll == coll::Coll::ReduceScatter;
  for (const auto& r : rows) {
    std::printf("  %10zu %12zu %8s %6s %6d %8.2f %7.2f %7.2f %6ld %8.2f %7.2f %7.2f %6ld  %s\n", r.bytes, r.count,
                std::string(coll::dtype_name(o.dtype)).c_str(),
                reduces ? std::string(coll::op_name(o.op)).c_str() : "none", r.root, r.oop.time_us, r.oop.algbw,
                r.oop.busbw, r.oop.wrong, r.ip.time_us, r.ip.algbw, r.ip.busbw, r.ip.wrong, r.algo.c_str());
    sum_bw += r.oop.busbw + r.ip.busbw;
    wrong += r.oop.wrong + r.ip.wrong;
  }
  std::printf("# Out of bounds values : %ld %s\n", wrong, wrong == 0 ? "OK" : "WRONG");
  std::printf("# Avg bus bandwidth    : %g \n#\n", rows.empty() ? 0.0 : sum_bw / (2.0 * static_cast<double>(rows.size())));
  std::fflush(stdout);
}

void print_json(const coll::Communicator& comm, const CollBenchOptions& o, const CollCliOptions& c,
                const std::vector<CollRow>& rows) {
  nlohmann::json j;
  j["collective"] = c.which;
  j["nranks"] = comm.size();
  j["nhosts"] = comm.nhosts();
  j["type"] = std::string(coll::dtype_name(o.dtype));
  j["redop"] = std::string(coll::op_name(o.op));
  j["iters"] = o.iters;
  j["warmup"] = o.warmup;
  double sum_bw = 0;
  long wrong = 0;
  auto res = [](const CollResult& r) {
    return nlohmann::json{{"time_us", r.time_us},         {"algbw_GBps", r.algbw},
                          {"busbw_GBps", r.busbw},        {"wrong", r.wrong},
                          {"cpu_user_us", r.cpu_user_us}, {"cpu_sys_us", r.cpu_sys_us}};
  };
  j["rows"] = nlohmann::json::array();
  for (const auto& r : rows) {
    j["rows"].push_back({{"size", r.bytes}, {"count", r.count}, {"root", r.root}, {"algo", r.algo},
                         {"out_of_place", res(r.oop)}, {"in_place", res(r.ip)}});
    sum_bw += r.oop.busbw + r.ip.busbw;
    wrong += r.oop.wrong + r.ip.wrong;
  }
  j["avg_busbw_GBps"] = rows.empty() ? 0.0 : sum_bw / (2.0 * static_cast<double>(rows.size()));
  j["wrong"] = wrong;
  std::cout << j.dump() << "\n" << std::flush;
}

int run(const CollCliOptions& c) {
  CollBenchOptions o;
  const char* names[] = {"allreduce", "broadcast", "reduce", "allgather", "reducescatter", "alltoall", "sendrecv"};
  bool found = false;
  for (int i = 0; i < 7; ++i)
    if (c.which == names[i]) {
      o.coll = static_cast<coll::Coll>(i);
      found = true;
    }
  if (!found) throw ExitError{2, "coll: unknown collective '" + c.which + "'"};
  o.min_bytes = bounded_size(c.min_bytes, "-b");
  o.max_bytes = bounded_size(c.max_bytes, "-e");
  if (o.max_bytes < o.min_bytes) throw ExitError{2, "coll: -e must be >= -b"};
  o.step_bytes = c.step_bytes.empty() ? 0 : bounded_size(c.step_bytes, "-i");
  if (o.step_bytes == 0 && !(c.factor > 1)) throw ExitError{2, "coll: -f must be > 1"};
  o.factor = c.factor;
  o.iters = c.iters;
  o.warmup = c.warmup;
  o.check = c.check != 0;
  auto dt = coll::parse_dtype(c.dtype);
  if (!dt) throw ExitError{2, "coll: unknown datatype '" + c.dtype + "'"};
  o.dtype = *dt;
  auto op = coll::parse_op(c.op);
  if (!op) throw ExitError{2, "coll: unknown op '" + c.op + "' (sum, prod, min, max, avg)"};
  o.op = *op;
  auto algo = coll::parse_algo(c.algo);
  if (!algo) throw ExitError{2, "coll: unknown algorithm '" + c.algo + "'"};
  o.algo = *algo;
  const size_t esize = coll::dtype_size(o.dtype);
  if (o.max_bytes < esize)
    throw ExitError{2, "coll: -e " + c.max_bytes + " is smaller than one " + c.dtype + " element (" +
                           std::to_string(esize) + " bytes): no row to run"};
  if (o.min_bytes < esize) o.min_bytes = esize;
  {
    int local_ranks = 1;
    try {
      local_ranks = coll::detect_launch().local_world_size;
    } catch (const coll::Error&) {
      // A malformed launcher environment is reported, with its variable, by create_from_env() below.
    }
    try {
      MemoryLimit::from_flag(c.max_memory, "--max-memory")
          .check(estimate_host_memory(o.max_bytes, local_ranks),
                 "coll: " + std::to_string(local_ranks) + " rank(s) on this host with buffers of up to " + c.max_bytes);
    } catch (const ResourceError& e) {
      throw ExitError{2, e.what()};
    }
  }
  std::unique_ptr<coll::Communicator> comm;
  try {
    comm = coll::Communicator::create_from_env();
  } catch (const coll::Error& e) {
    throw ExitError{e.status() == coll::Status::InvalidArgument ? 2 : 1, std::string("coll: ") + e.what()};
  }
  if (c.root < 0 || c.root >= comm->size())
    throw ExitError{2, "coll: root " + std::to_string(c.root) + " outside [0, " + std::to_string(comm->size()) + ")"};
  o.root = c.root;
  if (o.algo != coll::Algo::Auto && o.coll != coll::Coll::SendRecv) {
    try {
      coll::select_algo(o.coll, 0, comm->size(), comm->nhosts(), o.algo);
    } catch (const coll::Error& e) {
      throw ExitError{2, std::string("coll: ") + e.what()};
    }
  }
  std::vector<CollRow> rows;
  try {
    rows = run_coll_bench(*comm, o);
  } catch (const coll::Error& e) {
    throw ExitError{1, "coll: rank " + std::to_string(comm->rank()) + ": " + e.what()};
  }
  long wrong = 0;
  for (const auto& r : rows) wrong += r.oop.wrong + r.ip.wrong;
  if (comm->rank() == 0) {
    if (c.json) {
      print_json(*comm, o, c, rows);
    } else {
      print_text(*comm, o, c, rows);
    }
  }
  return wrong == 0 ? 0 : 1;
}

}  // namespace

void add_coll(CLI::App& app) {
  auto c = std::make_shared<CollCliOptions>();
  auto* sub = app.add_subcommand(
      "coll", "Collective benchmark with nccl-tests's flags and layout (run under `rfab run -n N` or a launcher)");
  sub->add_option("collective", c->which, "allreduce|allgather|reducescatter|alltoall|broadcast|reduce|sendrecv")
      ->required();
  add_size(sub, "-b,--minbytes", c->min_bytes, "smallest size (e.g. 8, 1K, 16M)", 1, uint64_t{64} << 30);
  add_size(sub, "-e,--maxbytes", c->max_bytes, "largest size (at most 64G)", 1, uint64_t{64} << 30);
  add_number(sub, "-f,--stepfactor", c->factor, "multiply the size by this between rows (> 1)", 1, 1e6, true);
  add_size(sub, "-i,--stepbytes", c->step_bytes, "add this to the size between rows (instead of -f)", 1,
           uint64_t{64} << 30);
  add_integer(sub, "-n,--iters", c->iters, "timed iterations", 1, 1000000);
  add_integer(sub, "-w,--warmup_iters", c->warmup, "warm-up iterations", 0, 1000000);
  add_integer(sub, "-c,--check", c->check, "validate results (1) or not (0)", 0, 1);
  sub->add_option("-d,--datatype", c->dtype, "int8 uint8 int32 uint32 int64 uint64 half bfloat16 float double");
  sub->add_option("-o,--op", c->op, "sum prod min max avg");
  add_integer(sub, "-r,--root", c->root, "root rank of broadcast / reduce", 0, 1u << 20);
  sub->add_option("-a,--algo", c->algo, "force an algorithm (ring rhd rd tree chain bruck pairwise hier)");
  add_size(sub, "--max-memory", c->max_memory,
           "refuse sizes whose buffers on this host would need more (default: half of physical memory)",
           uint64_t{1} << 20, UINT64_MAX);
  sub->add_flag("--json", c->json, "one JSON object instead of the table");
  sub->callback([c] {
    int rc = run(*c);
    if (rc != 0) throw ExitError{rc, "coll: some results were wrong"};
  });
}

}  // namespace rfab::cli
