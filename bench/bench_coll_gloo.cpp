// Gloo (TCP transport) side of the collective comparison: the same sizes and busbw factors as
// `rfab coll`, one JSON object per size from rank 0. Run under `rfab run -n N` (reads RANK / WORLD_SIZE);
// rendezvous through a FileStore directory given by GLOO_STORE_DIR (scripts/bench-coll.sh makes one).
#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "rfab/base/env.hpp"
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

int env_int(const char* k, int dflt) {
  const char* v = rfab::env::raw(k);
  return v != nullptr ? std::atoi(v) : dflt;
}

}  // namespace

int main(int argc, char** argv) {
  int rank = env_int("RANK", 0), n = env_int("WORLD_SIZE", 1);
  const char* dir = rfab::env::raw("GLOO_STORE_DIR");
  if (dir == nullptr) {
    std::fprintf(stderr, "bench_coll_gloo: set GLOO_STORE_DIR to an empty directory shared by the ranks\n");
    return 2;
  }
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
  gloo::transport::tcp::attr attr;
  // GLOO_HOSTNAME: the address this rank listens on (ranks in separate network namespaces, bench-coll.sh netns).
  const char* host = rfab::env::raw("GLOO_HOSTNAME");
  attr.hostname = host != nullptr && *host != '\0' ? host : "127.0.0.1";
  auto dev = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(dir);
  gloo::rendezvous::PrefixStore prefix(coll, store);
  auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, n);
  ctx->setTimeout(std::chrono::seconds(60));
  ctx->connectFullMesh(prefix, dev);
  const size_t N = static_cast<size_t>(n);
  uint32_t tag = 1;
  for (size_t bytes = minb; bytes <= maxb; bytes = static_cast<size_t>(static_cast<double>(bytes) * f)) {
    size_t count = bytes / sizeof(float);
    if (count == 0) count = 1;
    size_t per = count / N > 0 ? count / N : 1;
    std::vector<float> send(count * N + 16, 1.0f), recv(count * N + 16, 0.0f);
    auto once = [&] {
      if (coll == "allreduce") {
        gloo::AllreduceOptions o(ctx);
        o.setInput(send.data(), count);
        o.setOutput(recv.data(), count);
        o.setReduceFunction(
            static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
        o.setTag(tag++);
        gloo::allreduce(o);
      } else if (coll == "allgather") {
        gloo::AllgatherOptions o(ctx);
        o.setInput(send.data(), per);
        o.setOutput(recv.data(), per * N);
        o.setTag(tag++);
        gloo::allgather(o);
      } else {
        gloo::BroadcastOptions o(ctx);
        o.setOutput(send.data(), count);
        o.setRoot(0);
        o.setTag(tag++);
        gloo::broadcast(o);
      }
    };
    for (int i = 0; i < warmup; ++i) once();
    gloo::BarrierOptions bo(ctx);
    bo.setTag(tag++);
    gloo::barrier(bo);
    const rfab::cli::CpuTimes cpu0 = rfab::cli::cpu_times();
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) once();
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / iters;
    const rfab::cli::CpuTimes cpu = rfab::cli::cpu_times() - cpu0;
    double cpu_us[2] = {cpu.user * 1e6 / iters, cpu.sys * 1e6 / iters}, cpu_sum[2] = {0, 0};
    {
      gloo::AllreduceOptions o(ctx);
      o.setInput(cpu_us, 2);
      o.setOutput(cpu_sum, 2);
      o.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<double>));
      o.setTag(tag++);
      gloo::allreduce(o);
    }
    // Slowest rank: allreduce the time with max.
    double t = us;
    {
      gloo::AllreduceOptions o(ctx);
      o.setInput(&us, 1);
      o.setOutput(&t, 1);
      o.setReduceFunction(static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::max<double>));
      o.setTag(tag++);
      gloo::allreduce(o);
    }
    size_t shown = coll == "allgather" ? per * N * sizeof(float) : count * sizeof(float);
    double algbw = static_cast<double>(shown) / t / 1e3;
    double fac = coll == "allreduce" ? 2.0 * (n - 1) / n : coll == "allgather" ? static_cast<double>(n - 1) / n : 1.0;
    if (rank == 0)
      std::printf("{\"impl\":\"gloo\",\"collective\":\"%s\",\"nranks\":%d,\"size\":%zu,\"time_us\":%.3f,"
                  "\"algbw_GBps\":%.4f,\"busbw_GBps\":%.4f,\"cpu_user_us\":%.3f,\"cpu_sys_us\":%.3f}\n",
                  coll.c_str(), n, shown, t, algbw, algbw * fac, cpu_sum[0] / n, cpu_sum[1] / n);
    std::fflush(stdout);
    if (static_cast<double>(bytes) * f <= static_cast<double>(bytes)) break;
  }
  return 0;
}
