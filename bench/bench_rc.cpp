// The RC engine alone, no I/O: two QPs back to back in one thread, every packet encoded by one QP and
// decoded/processed by the other (ICRC excluded: that is the driver's). Reports the engine's packet rate
// and goodput per core, an upper bound for any datapath built on it.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/rc/rc.hpp"

using namespace rfab;
using namespace rfab::rc;

namespace {

struct Host {
  explicit Host(uint32_t qpn, size_t bytes) : cq(65536), mem(bytes, 1) {
    mr = pd.reg_mr(mem.data(), mem.size(), kLocalWrite | kRemoteWrite | kRemoteRead);
    QpInit init;
    init.pd = &pd;
    init.send_cq = init.recv_cq = &cq;
    init.qp_num = qpn;
    init.cap.max_send_wr = init.cap.max_recv_wr = 1024;
    qp = std::make_unique<QueuePair>(init);
  }
  ProtectionDomain pd;
  CompletionQueue cq;
  std::vector<uint8_t> mem;
  MemoryRegion* mr;
  std::unique_ptr<QueuePair> qp;
};

void connect(QueuePair& qp, uint32_t peer, Mtu mtu) {
  endpoint::ConnectParams c;  // the engine's defaults otherwise
  c.remote_qpn = peer;
  c.mtu = mtu_bytes(mtu);
  c.access = kRemoteWrite | kRemoteRead;
  c.max_dest_rd_atomic = 16;
  c.max_rd_atomic = 16;
  c.min_rnr_timer = 12;
  endpoint::connect(qp, c);
}

// args: message bytes, MTU bytes, opcode (0 = WRITE, 1 = SEND, 2 = READ)
void BM_RcBackToBack(benchmark::State& state) {
  const auto msg = static_cast<uint32_t>(state.range(0));
  Mtu mtu{};
  mtu_from_bytes(static_cast<uint32_t>(state.range(1)), mtu);
  const int kind = static_cast<int>(state.range(2));
  Host a(1, size_t{msg} * 2), b(2, size_t{msg} * 2);
  connect(*a.qp, 2, mtu);
  connect(*b.qp, 1, mtu);
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  const Sge local{a.mr->iova(), msg, a.mr->lkey()};
  const Sge remote_recv{b.mr->iova(), msg, b.mr->lkey()};
  SendWr wr;
  wr.opcode = kind == 0 ? WrOpcode::rdma_write : kind == 1 ? WrOpcode::send : WrOpcode::rdma_read;
  wr.sg_list = {&local, 1};
  wr.rdma = {b.mr->iova(), b.mr->rkey()};
  uint64_t packets = 0;
  Nanos now = 0;
  WorkCompletion wc[16];
  for (auto _ : state) {
    if (kind == 1) b.qp->post_recv(RecvWr{0, {&remote_recv, 1}});
    a.qp->post_send(wr);
    for (;;) {
      bool moved = false;
      while (a.qp->poll_transmit(now, pkt)) {
        b.qp->handle_packet(now, std::span<const uint8_t>(buf.data(), pkt.len), {});
        ++packets;
        moved = true;
      }
      while (b.qp->poll_transmit(now, pkt)) {
        a.qp->handle_packet(now, std::span<const uint8_t>(buf.data(), pkt.len), {});
        ++packets;
        moved = true;
      }
      if (poll_cq(a.cq, 16, wc) > 0) break;
      if (!moved) {
        state.SkipWithError("stalled");
        return;
      }
      now += 1000;
    }
    while (poll_cq(b.cq, 16, wc) > 0) {
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * msg);
  state.counters["pkts/s"] = benchmark::Counter(static_cast<double>(packets), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RcBackToBack)
    ->ArgNames({"bytes", "mtu", "op"})
    ->Args({64, 4096, 0})
    ->Args({65536, 4096, 0})
    ->Args({4 << 20, 4096, 0})
    ->Args({65536, 1024, 0})
    ->Args({65536, 4096, 1})
    ->Args({65536, 4096, 2});

}  // namespace

BENCHMARK_MAIN();
