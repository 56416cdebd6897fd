// CPU per packet of the generator's frame building (traffic model + encoder + ICRC) and of the collector's
// counting (FrameCounter, what `rfab collect --dpdk-args` runs per frame), apart from any device: what
// each costs when the kernel (af_packet on a veth) is not the limit.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <vector>

#include "rfab/gen/generator.hpp"

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

// The generator's whole send loop (gen::run: traffic model, frames built into the sink's buffers a burst at
// a time, truth counted) into a sink that drops the frames: what `rfab gen` spends per frame before the
// device's transmit. Its buffers come back in the opposite order each burst, as a DPDK mempool's cache
// hands back the mbufs a driver freed last; the second argument says whether the sink keeps what was
// written into them (as a DPDK port's transmit-only mbufs do: like frames are only patched) or not (every
// frame written whole).
class DropSink final : public gen::FrameSink {
 public:
  explicit DropSink(bool keeps) : keeps_(keeps) {}
  std::string describe() const override { return "nothing"; }
  size_t frame_room() const override { return kRoom; }
  bool keeps_frames() const override { return keeps_; }
  size_t reserve(std::span<uint8_t*> bufs) override {
    const size_t n = std::min(bufs.size(), kBuffers);
    reversed_ = !reversed_;
    for (size_t i = 0; i < n; ++i) bufs[i] = buf_.data() + (reversed_ ? n - 1 - i : i) * kRoom;
    return n;
  }
  void commit(std::span<const uint32_t> lens) override { benchmark::DoNotOptimize(lens.data()); }
  void flush() override {}
  bool pending() const override { return false; }
  void close() override {}
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return {}; }

 private:
  static constexpr size_t kRoom = 4096 + 256, kBuffers = 64;
  bool keeps_;
  bool reversed_ = false;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kRoom * kBuffers);
};

void BM_GenRun(benchmark::State& st) {
  const gen::GenConfig c = config(st.range(0));
  gen::TrafficModel m(c);
  gen::FrameBuilder b(c);
  gen::Truth truth(c);
  DropSink sink(st.range(1) != 0);
  gen::RunLimits lim;
  lim.count = 1 << 16;
  const std::atomic<bool> stop{false};
  for (auto _ : st) gen::run(m, b, sink, truth, lim, stop);
  st.SetItemsProcessed(st.iterations() * static_cast<int64_t>(lim.count));
}
BENCHMARK(BM_GenRun)->Args({64, 0})->Args({64, 1})->Args({1024, 0})->Args({1024, 1});

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
