// CPU per packet of the generator's frame building (traffic model + encoder + ICRC) and of the collector's
// counting (FrameCounter, what `rfab collect --dpdk-args` runs per frame), apart from any device: what
// each costs when the kernel (af_packet on a veth) is not the limit.
#include <benchmark/benchmark.h>

#include <vector>

#include "rfab/gen/frame_builder.hpp"
#include "rfab/telemetry/frame_counter.hpp"

namespace {
namespace gen = rfab::gen;

gen::GenConfig config(int64_t size) {
  gen::GenConfig c;
  c.msg_size = static_cast<uint32_t>(size);
  c.mtu = 1024;
  c.qps = 4;
  return c;
}

void BM_GenBuild(benchmark::State& st) {
  const gen::GenConfig c = config(st.range(0));
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  std::vector<uint8_t> buf(4096 + 256);
  for (auto _ : st) {
    const gen::GenPacket& p = m.next();
    benchmark::DoNotOptimize(b.build(p, buf));
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_GenBuild)->Arg(64)->Arg(1024);

void BM_FrameCounter(benchmark::State& st) {
  const gen::GenConfig c = config(st.range(0));
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  std::vector<std::vector<uint8_t>> frames;
  std::vector<uint8_t> buf(4096 + 256);
  for (int i = 0; i < 4096; ++i) frames.emplace_back(buf.begin(), buf.begin() + static_cast<long>(b.build(m.next(), buf)));
  rfab::telemetry::FrameCounter counter({});
  uint64_t now = 1'000'000'000;
  size_t i = 0;
  for (auto _ : st) {
    counter.count(frames[i], now += 100);
    i = (i + 1) & 4095;
  }
  st.SetItemsProcessed(st.iterations());
}
BENCHMARK(BM_FrameCounter)->Arg(64)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
