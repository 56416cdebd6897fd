// ICRC verify + decode throughput for 64 B, 1 KiB and 4 KiB RoCE v2 packets, beside zlib's crc32() over
// the same bytes in the same run. Compare bytes_per_second of BM_IcrcVerifyDecode/N with BM_ZlibCrc32/N.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <vector>

#include "rfab/wire/crc32.hpp"
#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"

using namespace rfab::wire;

namespace {
std::vector<uint8_t> make_frame(size_t payload) {
  RoceFields f;
  f.bth.opcode = op::RC_WRITE_MIDDLE;
  f.bth.dest_qp = 0x11;
  FrameSpec spec;
  std::vector<uint8_t> p(payload, 0x5A), out(frame_encoded_len(spec, f.bth.opcode, payload));
  (void)encode_frame(spec, f, p, out);
  return out;
}
}  // namespace

static void BM_IcrcVerifyDecode(benchmark::State& st) {
  auto frame = make_frame(static_cast<size_t>(st.range(0)));
  for (auto _ : st) {
    auto fr = decode_frame(frame);
    bool ok = fr && frame_icrc_ok(*fr);
    benchmark::DoNotOptimize(ok);
    if (!ok) st.SkipWithError("decode failed");
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_IcrcVerifyDecode)->Arg(64)->Arg(1024)->Arg(4096);

static void BM_DecodeOnly(benchmark::State& st) {
  auto frame = make_frame(static_cast<size_t>(st.range(0)));
  for (auto _ : st) {
    auto fr = decode_frame(frame);
    benchmark::DoNotOptimize(fr);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_DecodeOnly)->Arg(64)->Arg(1024)->Arg(4096);

static void BM_IcrcOnly(benchmark::State& st) {
  auto frame = make_frame(static_cast<size_t>(st.range(0)));
  auto l3 = std::span<const uint8_t>(frame).subspan(14);
  for (auto _ : st) benchmark::DoNotOptimize(icrc_verify(l3));
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_IcrcOnly)->Arg(64)->Arg(1024)->Arg(4096);

static void BM_ZlibCrc32(benchmark::State& st) {
  auto frame = make_frame(static_cast<size_t>(st.range(0)));
  for (auto _ : st) {
    uLong c = crc32(0L, frame.data(), static_cast<uInt>(frame.size()));
    benchmark::DoNotOptimize(c);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_ZlibCrc32)->Arg(64)->Arg(1024)->Arg(4096);

static void BM_RfabCrc32(benchmark::State& st) {
  auto frame = make_frame(static_cast<size_t>(st.range(0)));
  for (auto _ : st) {
    uint32_t c = crc32_update(0, frame.data(), frame.size());
    benchmark::DoNotOptimize(c);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(frame.size()));
}
BENCHMARK(BM_RfabCrc32)->Arg(64)->Arg(1024)->Arg(4096);

BENCHMARK_MAIN();
