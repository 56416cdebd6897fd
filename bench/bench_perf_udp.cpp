// Micro-benchmarks of the kernel-UDP datapath's per-packet work: the ICRC computed over the wire headers on
// send, the receive-side check (IPv4 ID 0 and a GSO segment's ID, which needs the ID recovery), and a
// GSO + GRO round trip of 4 KiB RoCE packets over loopback, and the receiver's ICRC check + payload
// placement as two passes and as one. The side-by-side comparison with iperf3 is
// scripts/bench-perf.sh.
#include <benchmark/benchmark.h>

#include <cstring>
#include <span>
#include <vector>

#include "rfab/udp/rx_batch.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/tx_batch.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace {
using namespace rfab::udp;

const Address kSrc = *Address::parse("10.0.0.1", 0xC001);
const Address kDst = *Address::parse("10.0.0.2", 4791);

std::vector<uint8_t> packet(size_t len) {
  std::vector<uint8_t> p(len);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(i * 7);
  p[0] = 0x07;
  return p;
}

void BM_FillIcrc(benchmark::State& st) {
  auto p = packet(static_cast<size_t>(st.range(0)));
  for (auto _ : st) {
    fill_icrc(kSrc, kDst, 0, p);
    benchmark::DoNotOptimize(p.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_FillIcrc)->Arg(64)->Arg(1024)->Arg(4112);

// What TxBatch does: the IP + UDP header part from an IcrcHeaderCache (GSO segment IDs 0..14 in turn).
void BM_FillIcrcCached(benchmark::State& st) {
  auto p = packet(static_cast<size_t>(st.range(0)));
  IcrcHeaderCache cache;
  uint16_t id = 0;
  for (auto _ : st) {
    fill_icrc(cache, kSrc, kDst, id, p);
    id = static_cast<uint16_t>(id == 14 ? 0 : id + 1);
    benchmark::DoNotOptimize(p.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * st.range(0));
}
BENCHMARK(BM_FillIcrcCached)->Arg(64)->Arg(1024)->Arg(4112);

void BM_VerifyIcrc(benchmark::State& st) {
  auto p = packet(4112);
  const auto id = static_cast<uint16_t>(st.range(0));
  fill_icrc(kSrc, kDst, id, p);
  IcrcVerifier v;
  for (auto _ : st) benchmark::DoNotOptimize(v.verify(kSrc, kDst, p));
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations()) * 4112);
}
BENCHMARK(BM_VerifyIcrc)->Arg(0)->Arg(7)->Arg(63)->Arg(0x2bcf);  // 0x2bcf: an rxe ID from tests/data/rxe

// The receiver's work for a WRITE MIDDLE packet (BTH + 4096 payload bytes + ICRC): the ICRC check and the
// copy of the payload into the MR, as two passes (check, then memcpy) or one (verify_copy). Arg: packets
// in the working set (1: everything in L1; 256: a 1 MiB receive buffer into a 1 MiB MR, as a 1 MiB WRITE
// arrives). IPv4 IDs 0..14 in turn, as a GSO sender writes them (14 of 15 need the ID recovery).
struct RxPlaceSet {
  explicit RxPlaceSet(size_t n) : mr(n * kPayload) {
    for (size_t i = 0; i < n; ++i) {
      pkts.push_back(packet(kBth + kPayload + 4));
      pkts.back()[11] = static_cast<uint8_t>(i);  // PSN: the packets differ
      fill_icrc(kSrc, kDst, static_cast<uint16_t>(i % 15), pkts.back());
    }
  }
  static constexpr size_t kBth = 12, kPayload = 4096;
  std::vector<std::vector<uint8_t>> pkts;
  std::vector<uint8_t> mr;
};

void BM_RxPlaceSeparate(benchmark::State& st) {
  RxPlaceSet set(static_cast<size_t>(st.range(0)));
  IcrcVerifier v;
  size_t i = 0;
  for (auto _ : st) {
    const auto& p = set.pkts[i];
    if (!v.verify(kSrc, kDst, p)) st.SkipWithError("ICRC mismatch");
    std::memcpy(set.mr.data() + i * RxPlaceSet::kPayload, p.data() + RxPlaceSet::kBth, RxPlaceSet::kPayload);
    benchmark::DoNotOptimize(set.mr.data());
    if (++i == set.pkts.size()) i = 0;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * RxPlaceSet::kPayload));
}
BENCHMARK(BM_RxPlaceSeparate)->Arg(1)->Arg(256);

void BM_RxPlaceFused(benchmark::State& st) {
  RxPlaceSet set(static_cast<size_t>(st.range(0)));
  IcrcVerifier v;
  size_t i = 0;
  for (auto _ : st) {
    const std::span<const uint8_t> p = set.pkts[i];
    if (!v.verify_copy(kSrc, kDst, p, p.subspan(RxPlaceSet::kBth, RxPlaceSet::kPayload),
                       set.mr.data() + i * RxPlaceSet::kPayload))
      st.SkipWithError("ICRC mismatch");
    benchmark::DoNotOptimize(set.mr.data());
    if (++i == set.pkts.size()) i = 0;
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * RxPlaceSet::kPayload));
}
BENCHMARK(BM_RxPlaceFused)->Arg(1)->Arg(256);

void BM_LoopbackGsoGro(benchmark::State& st) {
  const Address lo = *Address::parse("127.0.0.1", 0);
  UdpSocket rx_sock = UdpSocket::bind(lo), tx_sock = UdpSocket::bind(lo);
  TxBatch tx(tx_sock);
  RxBatch rx(rx_sock);
  std::vector<std::vector<uint8_t>> pkts(60, packet(4112));
  std::vector<RxDatagram> got;
  uint64_t received = 0;
  for (auto _ : st) {
    for (auto& p : pkts) tx.push(rx_sock.local(), p);
    tx.flush();
    size_t n = 0;
    while (n < pkts.size()) {
      const size_t k = rx.receive(got);
      if (k == 0) break;
      n += k;
    }
    received += n;
  }
  st.SetItemsProcessed(static_cast<int64_t>(received));
  st.SetBytesProcessed(static_cast<int64_t>(received) * 4112);
}
BENCHMARK(BM_LoopbackGsoGro)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
