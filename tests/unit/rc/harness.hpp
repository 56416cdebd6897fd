// Two RC QPs back to back through a scripted in-memory wire and a fake clock. A `fate` callback decides per
// packet whether it is dropped, duplicated, delayed (reordered) or CE-marked; the event loop delivers packets
// in arrival-time order and fires QP timers, so every loss pattern is reproduced exactly.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "rfab/base/env.hpp"
#include "rfab/endpoint/connect.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc::test {

struct Fate {
  bool drop = false;
  int copies = 1;    // >1 duplicates the packet
  Nanos delay = 0;   // extra one-way delay (reorders against later packets)
  bool ce = false;   // mark ECN Congestion Experienced
};

// What the wire knows about a packet when deciding its fate.
struct WirePacket {
  int from = 0;      // 0 = side A, 1 = side B
  uint64_t index = 0;  // per-side packet counter (0-based)
  uint8_t opcode = 0;
  uint32_t psn = 0;
  uint16_t src_port = 0;
  bool retransmit = false;
};

struct Side {
  explicit Side(uint32_t qpn, size_t mem_bytes, QpCap cap = {}, QpTuning tuning = {})
      : scq(65536), rcq(65536), mem(mem_bytes + 2 * kGuard, 0xEE) {
    mr = pd.reg_mr(mem.data() + kGuard, mem_bytes, kLocalWrite | kRemoteWrite | kRemoteRead | kRemoteAtomic);
    QpInit init;
    init.pd = &pd;
    init.send_cq = &scq;
    init.recv_cq = &rcq;
    init.cap = cap;
    init.qp_num = qpn;
    init.tuning = tuning;
    qp = std::make_unique<QueuePair>(init);
  }
  static constexpr size_t kGuard = 64;
  uint8_t* buf() { return mem.data() + kGuard; }
  uint64_t va(size_t off = 0) const { return mr->iova() + off; }
  bool guards_intact() const {
    for (size_t i = 0; i < kGuard; ++i)
      if (mem[i] != 0xEE || mem[mem.size() - 1 - i] != 0xEE) return false;
    return true;
  }
  std::vector<WorkCompletion> poll(CompletionQueue& cq) {
    std::vector<WorkCompletion> out(cq.size());
    out.resize(cq.poll(out));
    return out;
  }

  ProtectionDomain pd;
  CompletionQueue scq, rcq;
  std::vector<uint8_t> mem;
  MemoryRegion* mr = nullptr;
  std::unique_ptr<QueuePair> qp;
};

struct ConnectOpts {
  Mtu mtu = Mtu::mtu1024;
  uint32_t psn_a = 100, psn_b = 5000;
  uint8_t timeout = 10, retry_cnt = 7, rnr_retry = 7, min_rnr_timer = 1;
  uint8_t max_rd_atomic = 16;
  EntropyPolicy entropy;
  LossRecovery loss_recovery = LossRecovery::go_back_n;
};

// Brings a QP to RTS facing `remote_qpn`.
// Brings a QP to RTS facing `remote_qpn`, through the one bring-up ladder (fabric/endpoint/connect.hpp).
inline void connect(QueuePair& qp, uint32_t remote_qpn, uint32_t sq_psn, uint32_t rq_psn, const ConnectOpts& o) {
  endpoint::ConnectParams p;
  p.remote_qpn = remote_qpn;
  p.remote_psn = rq_psn;
  p.local_psn = sq_psn;
  p.mtu = mtu_bytes(o.mtu);
  p.access = kRemoteWrite | kRemoteRead | kRemoteAtomic;
  p.max_dest_rd_atomic = o.max_rd_atomic;
  p.max_rd_atomic = o.max_rd_atomic;
  p.min_rnr_timer = o.min_rnr_timer;
  p.ack_timeout = o.timeout;
  p.retry_cnt = o.retry_cnt;
  p.rnr_retry = o.rnr_retry;
  p.entropy = o.entropy;
  p.loss_recovery = o.loss_recovery;
  endpoint::connect(qp, p);  // throws, naming the step, when the engine refuses
}

class Pair {
 public:
  explicit Pair(size_t mem_bytes = 1 << 20, ConnectOpts o = {}, QpCap cap = {}, QpTuning tuning = {})
      : a(0x11, mem_bytes, cap, tuning), b(0x22, mem_bytes, cap, tuning), opts(o) {
    connect(*a.qp, 0x22, o.psn_a, o.psn_b, o);
    connect(*b.qp, 0x11, o.psn_b, o.psn_a, o);
  }

  Side& side(int i) { return i == 0 ? a : b; }

  // Runs the event loop until `done()` or the wire and both QPs are idle, or `limit` of fake time passes.
  // Returns true if done() became true (or, without a predicate, if everything went idle).
  bool run(const std::function<bool()>& done = nullptr, Nanos limit = 10'000'000'000ull) {
    const Nanos end = now + limit;
    for (size_t iter = 0; iter < 50'000'000; ++iter) {
      if (done && done()) return true;
      for (int s = 0; s < 2; ++s) transmit(s);
      if (done && done()) return true;
      Nanos next = kNever;
      if (!flight.empty()) next = flight.top().at;
      for (int s = 0; s < 2; ++s) next = std::min(next, side(s).qp->next_deadline());
      if (next == kNever) return !done;
      if (next > end) return false;
      now = std::max(now, next);
      deliver();
      for (int s = 0; s < 2; ++s)
        if (side(s).qp->next_deadline() <= now) side(s).qp->handle_timeout(now);
    }
    return false;
  }

  Side a, b;
  ConnectOpts opts;
  Nanos now = 0;
  Nanos latency = 2000;  // one-way, ns
  std::function<Fate(const WirePacket&)> fate;
  std::vector<WirePacket> log;  // every packet sent, in send order
  uint64_t delivered = 0;
  bool trace = env::raw("RFAB_RC_TRACE") != nullptr;  // print every packet (debugging aid)
  // When set, packets are delivered unchecked with this integrity check for the QP to run
  // (handle_packet(..., RxCheck&)), as a driver that folds the ICRC into the payload copy does.
  std::function<RxCheck&(std::span<const uint8_t> bytes)> check;

 private:
  struct InFlight {
    Nanos at;
    uint64_t seq;
    int to;
    bool ce;
    uint16_t src_port;
    std::vector<uint8_t> bytes;
  };

  void transmit(int s) {
    std::vector<uint8_t> buf(kMaxPacketBytes);
    TxPacket pkt;
    pkt.buf = buf;
    while (side(s).qp->poll_transmit(now, pkt)) {
      WirePacket w{s, sent_[s]++, pkt.opcode, pkt.psn, pkt.src_port, pkt.retransmit};
      log.push_back(w);
      const Fate f = fate ? fate(w) : Fate{};
      if (trace) {
        auto d = wire::decode_roce(std::span<const uint8_t>(buf.data(), pkt.len));
        std::fprintf(stderr, "t=%llu %c->%c op=%02x psn=%06x%s%s delay=%llu aeth=%02x/%u reth=%llx/%u\n",
                     (unsigned long long)now, "AB"[s], "BA"[s], w.opcode, w.psn, w.retransmit ? " RT" : "",
                     f.drop ? " DROP" : "", (unsigned long long)f.delay, d->f.aeth.syndrome, d->f.aeth.msn,
                     (unsigned long long)d->f.reth.va, d->f.reth.dma_len);
      }
      if (f.drop) continue;
      for (int c = 0; c < f.copies; ++c)
        flight.push(InFlight{now + latency + f.delay, seq_++, 1 - s, f.ce, pkt.src_port,
                                  std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<long>(pkt.len))});
    }
  }

  void deliver() {
    while (!flight.empty() && flight.top().at <= now) {
      InFlight f = flight.top();
      flight.pop();
      if (check) side(f.to).qp->handle_packet(now, f.bytes, RxMeta{f.ce, f.src_port}, check(f.bytes));
      else side(f.to).qp->handle_packet(now, f.bytes, RxMeta{f.ce, f.src_port});
      ++delivered;
    }
  }

  struct Later {  // min-heap on (arrival time, send order)
    bool operator()(const InFlight& x, const InFlight& y) const {
      return x.at != y.at ? x.at > y.at : x.seq > y.seq;
    }
  };
  std::priority_queue<InFlight, std::vector<InFlight>, Later> flight;
  uint64_t seq_ = 0;
  uint64_t sent_[2] = {0, 0};
};

// An SGE over [off, off + len) of a side's memory region.
inline Sge sge(Side& s, size_t off, uint32_t len) { return Sge{s.va(off), len, s.mr->lkey()}; }

// Runs until side `s` has `n` send completions, or `limit` of fake time passes; returns what arrived.
inline std::vector<WorkCompletion> drain(Pair& p, Side& s, size_t n, Nanos limit = 10'000'000'000ull) {
  std::vector<WorkCompletion> got;
  p.run(
      [&] {
        auto more = s.poll(s.scq);
        got.insert(got.end(), more.begin(), more.end());
        return got.size() >= n;
      },
      limit);
  return got;
}


// A wire that drops the first `times` transmissions of A's requests with these PSNs.
inline std::function<Fate(const WirePacket&)> drop_a(std::set<uint32_t> psns, int times = 1) {
  auto seen = std::make_shared<std::map<uint32_t, int>>();
  return [=](const WirePacket& w) {
    if (w.from == 0 && psns.count(w.psn) && (*seen)[w.psn]++ < times) return Fate{true};
    return Fate{};
  };
}

// B posts a receive of `recv_len` bytes at its offset 0, A a SEND of `send_len` bytes from its offset 0.
inline void post_send_and_recv(Pair& p, uint32_t send_len, uint32_t recv_len) {
  const Sge rs = sge(p.b, 0, recv_len);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{1, {&rs, 1}}).ok());
  const Sge s = sge(p.a, 0, send_len);
  SendWr wr;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
}

// An RDMA WRITE (A's `s` into B's memory at `off`) or READ (B's memory at `off` into A's `s`).
inline SendWr rdma_wr(Pair& p, WrOpcode op, const Sge& s, size_t off, uint64_t id = 1) {
  SendWr wr;
  wr.wr_id = id;
  wr.opcode = op;
  wr.sg_list = {&s, 1};
  wr.rdma = {p.b.va(off), p.b.mr->rkey()};
  return wr;
}
inline SendWr write_wr(Pair& p, const Sge& s, size_t off, uint64_t id = 1) { return rdma_wr(p, WrOpcode::rdma_write, s, off, id); }
inline SendWr read_wr(Pair& p, const Sge& s, size_t off, uint64_t id = 1) { return rdma_wr(p, WrOpcode::rdma_read, s, off, id); }

inline std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v;
  v.reserve(n + 1);  // data() is never null, even for n == 0 (memcpy/memcmp arguments)
  v.resize(n);
  std::mt19937 rng(seed);
  for (auto& x : v) x = static_cast<uint8_t>(rng());
  return v;
}

}  // namespace rfab::rc::test
