// OpenMPI side of the collective comparison: the same sizes, iteration counts and busbw factors as
// `rfab coll`, printing one JSON object per size (rank 0). Run under mpirun; driven by scripts/bench-coll.sh.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rfab/base/units.hpp"
#include "cpu_time.hpp"  // cli/src: CPU per call, measured as rfab coll measures it

namespace {

// -b/-e as rfab coll reads them (rfab/base/units.hpp: K, M, G are powers of 1024).
size_t parse_size(const char* s) {
  try {
    return static_cast<size_t>(rfab::parse_size(s, "size"));
  } catch (const rfab::ParseError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    std::exit(2);
  }
}

double factor(const std::string& c, int n) {
  if (c == "allreduce") return 2.0 * (n - 1) / n;
  if (c == "allgather" || c == "reducescatter" || c == "alltoall") return static_cast<double>(n - 1) / n;
  return 1.0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, n = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &n);
  std::string coll = argc > 1 ? argv[1] : "allreduce";
  size_t minb = 8, maxb = 1 << 20;
  int iters = 20, warmup = 5;
  double f = 2;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "-b") minb = parse_size(argv[i + 1]);
    else if (k == "-e") maxb = parse_size(argv[i + 1]);
    else if (k == "-f") f = std::atof(argv[i + 1]);
    else if (k == "-n") iters = std::atoi(argv[i + 1]);
    else if (k == "-w") warmup = std::atoi(argv[i + 1]);
  }
  const size_t N = static_cast<size_t>(n);
  for (size_t bytes = minb; bytes <= maxb; bytes = static_cast<size_t>(static_cast<double>(bytes) * f)) {
    size_t count = bytes / sizeof(float);
    if (count == 0) count = 1;
    std::vector<float> send(count * N + 16, 1.0f), recv(count * N + 16, 0.0f);
    int c = static_cast<int>(count), per = static_cast<int>(count / N > 0 ? count / N : 1);
    auto once = [&] {
      if (coll == "allreduce") MPI_Allreduce(send.data(), recv.data(), c, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      else if (coll == "allgather")
        MPI_Allgather(send.data(), per, MPI_FLOAT, recv.data(), per, MPI_FLOAT, MPI_COMM_WORLD);
      else if (coll == "reducescatter")
        MPI_Reduce_scatter_block(send.data(), recv.data(), per, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      else if (coll == "alltoall")
        MPI_Alltoall(send.data(), per, MPI_FLOAT, recv.data(), per, MPI_FLOAT, MPI_COMM_WORLD);
      else if (coll == "broadcast") MPI_Bcast(send.data(), c, MPI_FLOAT, 0, MPI_COMM_WORLD);
      else if (coll == "reduce") MPI_Reduce(send.data(), recv.data(), c, MPI_FLOAT, MPI_SUM, 0, MPI_COMM_WORLD);
    };
    for (int i = 0; i < warmup; ++i) once();
    MPI_Barrier(MPI_COMM_WORLD);
    const rfab::cli::CpuTimes cpu0 = rfab::cli::cpu_times();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) once();
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
    const rfab::cli::CpuTimes cpu = rfab::cli::cpu_times() - cpu0;
    double t = us;
    MPI_Allreduce(&us, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double cpu_us[2] = {cpu.user * 1e6 / iters, cpu.sys * 1e6 / iters}, cpu_sum[2] = {0, 0};
    MPI_Allreduce(cpu_us, cpu_sum, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    // nccl-tests sizes: total bytes of the larger buffer for allgather/reducescatter/alltoall.
    size_t shown = (coll == "allgather" || coll == "reducescatter" || coll == "alltoall")
                       ? static_cast<size_t>(per) * N * sizeof(float)
                       : count * sizeof(float);
    double algbw = static_cast<double>(shown) / t / 1e3;
    if (rank == 0)
      std::printf("{\"impl\":\"openmpi\",\"collective\":\"%s\",\"nranks\":%d,\"size\":%zu,\"time_us\":%.3f,"
                  "\"algbw_GBps\":%.4f,\"busbw_GBps\":%.4f,\"cpu_user_us\":%.3f,\"cpu_sys_us\":%.3f}\n",
                  coll.c_str(), n, shown, t, algbw, algbw * factor(coll, n), cpu_sum[0] / n, cpu_sum[1] / n);
    std::fflush(stdout);
    if (static_cast<double>(bytes) * f <= static_cast<double>(bytes)) break;
  }
  MPI_Finalize();
  return 0;
}
