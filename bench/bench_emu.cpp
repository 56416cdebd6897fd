// Fabric emulator benchmarks.
//
//   bench_emu [google-benchmark flags]   event-queue micro-benchmarks: the timing wheel vs std::priority_queue
//                                        on the emulator's hold pattern (pop the earliest, push one a typical
//                                        serialization/latency later)
//   bench_emu --fabric [1024|8192|100000|all]
//                                        the fabric scenarios (permutation of long flows, 3-tier
//                                        fat-tree, 400G, 4 KiB MTU, 1 us/hop, ECMP, PFC lossless), each in a
//                                        forked child so peak RSS is its own, printed side by side with the
//                                        htsim reference measured on this VM
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/emu/scenario.hpp"

using namespace rfab::emu;

namespace {

// Delays drawn like the fabric's: mostly one frame time (83.56 ns at 400G) or frame + 1 us latency.
std::vector<Picos> delays(size_t n) {
  std::mt19937_64 rng(1);
  std::vector<Picos> d(n);
  for (auto& x : d) x = (rng() & 1) ? 83'560 : 1'083'560 + rng() % 4096;
  return d;
}

void BM_TimingWheel(benchmark::State& state) {
  const size_t pending = size_t(state.range(0));
  auto d = delays(1 << 16);
  EventQueue q;
  for (size_t i = 0; i < pending; ++i) q.push(d[i & 0xFFFF] * (i % 7), 0, uint32_t(i), 0);
  size_t i = 0;
  for (auto _ : state) {
    Event e = q.pop();
    q.push(e.time + d[i++ & 0xFFFF], 0, e.target, 0);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

struct PqEvent {
  Picos time;
  uint64_t seq;
  uint32_t target;
  bool operator>(const PqEvent& o) const { return time != o.time ? time > o.time : seq > o.seq; }
};

void BM_PriorityQueue(benchmark::State& state) {
  const size_t pending = size_t(state.range(0));
  auto d = delays(1 << 16);
  std::priority_queue<PqEvent, std::vector<PqEvent>, std::greater<>> q;
  uint64_t seq = 0;
  for (size_t i = 0; i < pending; ++i) q.push(PqEvent{d[i & 0xFFFF] * (i % 7), seq++, uint32_t(i)});
  size_t i = 0;
  for (auto _ : state) {
    PqEvent e = q.top();
    q.pop();
    q.push(PqEvent{e.time + d[i++ & 0xFFFF], seq++, e.target});
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}

BENCHMARK(BM_TimingWheel)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);
BENCHMARK(BM_PriorityQueue)->Arg(1 << 10)->Arg(1 << 16)->Arg(1 << 20);

struct FabricCase {
  const char* name;
  const char* topo;
  Picos duration;
  double htsim_cpu_s;  // UEC htsim (RoCE: ECMP + PFC) on this VM, from issue 5; 0 = htsim cannot run it
  double htsim_mib;
};

const FabricCase kCases[] = {
    {"1024", "fat-tree:k=16,tiers=3,speed=400G,latency=1us", 300'000'000, 40, 137},
    {"8192", "fat-tree:k=32,tiers=3,speed=400G,latency=1us", 75'000'000, 128, 2200},
    {"100000", "fat-tree:hosts=100000,speed=400G,latency=1us", 10'000'000, 0, 0},
};

struct Result {
  double cpu_s, wall_s, events, eps, rss, throughput;
  uint32_t hosts;
  int ok;
};

// Runs one case in a child process (its own peak RSS) and returns its numbers through a pipe.
Result run_child(const FabricCase& c) {
  int fds[2];
  if (pipe(fds) != 0) return Result{};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    Result r{};
    try {
      ScenarioSpec s;
      s.topology = c.topo;
      s.traffic = "permutation:bytes=inf";
      s.routing = Routing::ecmp;
      s.pfc = true;
      s.cc = "none";
      s.mtu = 4096;
      s.duration = c.duration;
      Report rep = run_scenario(s);
      r = Result{rep.cpu_seconds, rep.wall_seconds, double(rep.events), rep.events_per_second,
                 double(rep.peak_rss_bytes), rep.throughput, rep.hosts, 1};
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_emu: %s: %s\n", c.name, e.what());
    }
    ssize_t n = write(fds[1], &r, sizeof r);
    _exit(n == sizeof r ? 0 : 1);
  }
  close(fds[1]);
  Result r{};
  ssize_t n = read(fds[0], &r, sizeof r);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (n != sizeof r) r.ok = 0;
  return r;
}

int run_fabric(const std::string& which) {
  std::printf("%-7s %-9s %9s %9s %13s %10s %10s %10s %s\n", "hosts", "simulated", "CPU-s", "wall-s", "events",
              "Mevents/s", "peak MiB", "thruput", "htsim CPU-s / MiB (ratio rfab/htsim)");
  for (const FabricCase& c : kCases) {
    if (which != "all" && which != c.name) continue;
    Result r = run_child(c);
    if (!r.ok) {
      std::printf("%-7s failed\n", c.name);
      return 1;
    }
    std::printf("%-7u %6.0f us %9.2f %9.2f %13.0f %10.2f %10.1f %10.3f ", r.hosts, double(c.duration) / 1e6,
                r.cpu_s, r.wall_s, r.events, r.eps / 1e6, r.rss / (1024.0 * 1024.0), r.throughput);
    if (c.htsim_cpu_s > 0)
      std::printf("%.0f / %.0f (%.3f / %.3f)\n", c.htsim_cpu_s, c.htsim_mib, r.cpu_s / c.htsim_cpu_s,
                  r.rss / (1024.0 * 1024.0) / c.htsim_mib);
    else
      std::printf("htsim could not fit 65k hosts in 24 GB\n");
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--fabric") == 0) return run_fabric(i + 1 < argc ? argv[i + 1] : "all");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
