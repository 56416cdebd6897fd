// Per-packet cost of the DCQCN roles and of the fault injector: what the emulator and the datapaths pay
// for each packet they push through them.
#include <benchmark/benchmark.h>

#include <vector>

#include "rfab/congestion/congestion_point.hpp"
#include "rfab/congestion/notification_point.hpp"
#include "rfab/congestion/reaction_point.hpp"
#include "rfab/fault/fault_injector.hpp"

namespace {

using rfab::Nanos;

// A sender recovering from congestion: one on_send per 4 KiB packet at ~50 Gb/s, a CNP every 100 us,
// timers serviced when due.
void BM_ReactionPointPerPacket(benchmark::State& state) {
  rfab::cc::DcqcnReactionPoint rp(rfab::cc::dcqcn_paper(), 100e9);
  Nanos now = 0;
  uint64_t n = 0;
  for (auto _ : state) {
    now += 655;  // 4 KiB at 50 Gb/s
    if (++n % 150 == 0) rp.on_cnp(now);
    if (rp.next_timer() <= now) rp.on_timer(now);
    rp.on_send(now, 4096);
    benchmark::DoNotOptimize(rp.rate_bps(now));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ReactionPointPerPacket);

void BM_EcnMarkerPerPacket(benchmark::State& state) {
  rfab::cc::EcnMarker m(rfab::cc::dcqcn_paper().red, 1);
  uint64_t q = 0;
  for (auto _ : state) {
    q = (q + 4096) % 300000;  // sweep below Kmin, the ramp and above Kmax
    benchmark::DoNotOptimize(m.mark(q));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EcnMarkerPerPacket);

// CE packets spread over `range(0)` flows, 10 ns apart.
void BM_CnpGeneratorPerCePacket(benchmark::State& state) {
  rfab::cc::CnpGenerator np(50'000);
  const auto flows = static_cast<uint64_t>(state.range(0));
  uint64_t i = 0;
  for (auto _ : state) {
    ++i;
    benchmark::DoNotOptimize(np.on_ce(i * 10, (i * 2654435761u) % flows));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CnpGeneratorPerCePacket)->Arg(64)->Arg(100000);

// push + pop of a 4 KiB packet with every fault enabled at test-like rates.
void BM_FaultInjectorPerPacket(benchmark::State& state) {
  rfab::fault::FaultInjector f(
      rfab::fault::parse_fault("drop=0.01,dup=0.001,reorder=0.05,corrupt=0.001,delay=10us,jitter=2us"));
  std::vector<rfab::fault::Packet> out;
  const std::vector<uint8_t> pkt(4096, 0xab);
  Nanos now = 0;
  for (auto _ : state) {
    now += 330;
    f.push(now, pkt, 0, rfab::fault::kAfterBthMaskedByte);
    out.clear();
    f.pop_ready(now, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FaultInjectorPerPacket);

}  // namespace

BENCHMARK_MAIN();
