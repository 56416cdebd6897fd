// Random loss, duplication, reordering and ECN marks in both directions under a mixed workload of every
// verb: each message must be delivered exactly once, in order, with the right bytes, and every atomic
// must execute exactly once (fetch-and-add originals form the sequence 0, 1, 2, ...).
#include <cstring>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {

struct SoakParam {
  uint32_t seed;
  int loss_pct;
  int dup_pct;
  int reorder_pct;
  Mtu mtu;
  bool spray;
};

class Soak : public ::testing::TestWithParam<SoakParam> {};

TEST_P(Soak, ExactlyOnceInOrderUnderFaults) {
  const SoakParam prm = GetParam();
  ConnectOpts o;
  o.mtu = prm.mtu;
  o.timeout = 8;  // ~1 ms
  if (prm.spray) o.entropy = {EntropyPolicy::Kind::spray, 8, 0};
  constexpr size_t kMem = 8 << 20;
  QpCap cap;
  cap.max_send_wr = cap.max_recv_wr = 1024;
  QpTuning tuning;
  tuning.max_outstanding = 512;  // go-back-N resends the whole window: keep it realistic for a lossy link
  Pair p(kMem, o, cap, tuning);
  std::mt19937 rng(prm.seed);
  p.fate = [&](const WirePacket&) {
    Fate f;
    f.drop = int(rng() % 1000) < prm.loss_pct * 10;
    f.copies = int(rng() % 100) < prm.dup_pct ? 2 : 1;
    if (int(rng() % 100) < prm.reorder_pct) f.delay = rng() % 30'000;
    f.ce = rng() % 100 == 0;
    return f;
  };
  const auto src = pattern(1 << 20, prm.seed);
  std::memcpy(p.a.buf(), src.data(), src.size());
  std::memcpy(p.b.buf() + (6 << 20), src.data(), src.size());  // READ source on B
  const size_t counter_off = kMem - 8;
  std::memset(p.b.buf() + counter_off, 0, 8);

  constexpr int kOps = 300;
  struct Op {
    WrOpcode code;
    uint32_t len;
    size_t src_off, dst_off;
  };
  std::vector<Op> ops;
  std::vector<Sge> sges(kOps);
  std::vector<Sge> rsges(kOps);
  int sends = 0, faas = 0;
  size_t recv_cursor = 0, write_cursor = 2 << 20, read_cursor = 0;
  for (int i = 0; i < kOps; ++i) {
    const int kind = int(rng() % 10);
    Op op{};
    op.len = rng() % 3 == 0 ? uint32_t(rng() % 64) : uint32_t(rng() % 20000);
    op.src_off = rng() % ((1 << 20) - 20000);
    SendWr wr;
    wr.wr_id = uint64_t(i);
    if (kind < 4) {
      op.code = kind == 0 ? WrOpcode::send_with_imm : WrOpcode::send;
      op.dst_off = recv_cursor;
      rsges[sends] = Sge{p.b.va(recv_cursor), op.len + 16, p.b.mr->lkey()};
      ASSERT_TRUE(p.b.qp->post_recv(RecvWr{uint64_t(sends), {&rsges[sends], 1}}).ok());
      recv_cursor += op.len + 16;
      ++sends;
      wr.imm = uint32_t(i);
    } else if (kind < 7) {
      op.code = kind == 4 ? WrOpcode::rdma_write_with_imm : WrOpcode::rdma_write;
      op.dst_off = write_cursor;
      write_cursor += op.len;
      wr.rdma = {p.b.va(op.dst_off), p.b.mr->rkey()};
      if (op.code == WrOpcode::rdma_write_with_imm) {
        ASSERT_TRUE(p.b.qp->post_recv(RecvWr{uint64_t(1'000'000 + i), {}}).ok());
        wr.imm = uint32_t(i);
      }
    } else if (kind < 9) {
      op.code = WrOpcode::rdma_read;
      op.dst_off = (4 << 20) + read_cursor;  // on A
      read_cursor += op.len;
      wr.rdma = {p.b.va((6 << 20) + op.src_off), p.b.mr->rkey()};
    } else {
      op.code = WrOpcode::atomic_fetch_and_add;
      op.len = 8;
      op.dst_off = (7 << 20) + size_t(faas) * 8;  // result slot on A
      wr.atomic = {p.b.va(counter_off), 1, 0, p.b.mr->rkey()};
      ++faas;
    }
    wr.opcode = op.code;
    sges[i] = op.code == WrOpcode::rdma_read || op.code == WrOpcode::atomic_fetch_and_add
                  ? Sge{p.a.va(op.dst_off), op.len, p.a.mr->lkey()}
                  : Sge{p.a.va(op.src_off), op.len, p.a.mr->lkey()};
    wr.sg_list = {&sges[i], 1};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok()) << i;
    ops.push_back(op);
  }
  ASSERT_LT(recv_cursor, size_t(2 << 20));
  ASSERT_LT(write_cursor, size_t(6 << 20));

  std::vector<WorkCompletion> wc;
  ASSERT_TRUE(p.run([&] {
    auto more = p.a.poll(p.a.scq);
    wc.insert(wc.end(), more.begin(), more.end());
    return wc.size() >= size_t(kOps);
  })) << "stalled at " << wc.size() << " completions, now=" << p.now;
  ASSERT_EQ(wc.size(), size_t(kOps));
  for (int i = 0; i < kOps; ++i) {
    ASSERT_EQ(wc[i].wr_id, uint64_t(i));
    ASSERT_EQ(wc[i].status, WcStatus::success)
        << i << ": " << to_string(wc[i].status) << " op " << to_string(ops[i].code) << " len " << ops[i].len
        << " timeouts " << p.a.qp->stats().timeouts << " seqnak " << p.a.qp->stats().seq_naks_received
        << " rnr " << p.a.qp->stats().rnr_naks_received << " now " << p.now;
  }
  p.run();  // let the last ACKs settle
  auto r = p.b.poll(p.b.rcq);
  size_t ri = 0;
  int faa_seen = 0;
  for (int i = 0; i < kOps; ++i) {
    const Op& op = ops[i];
    switch (op.code) {
      case WrOpcode::send:
      case WrOpcode::send_with_imm:
        ASSERT_LT(ri, r.size());
        EXPECT_EQ(r[ri].status, WcStatus::success);
        EXPECT_EQ(r[ri].byte_len, op.len) << i;
        EXPECT_EQ(bool(r[ri].wc_flags & kWcWithImm), op.code == WrOpcode::send_with_imm);
        EXPECT_EQ(0, std::memcmp(p.b.buf() + op.dst_off, src.data() + op.src_off, op.len)) << i;
        ++ri;
        break;
      case WrOpcode::rdma_write_with_imm:
        ASSERT_LT(ri, r.size());
        EXPECT_EQ(r[ri].wr_id, uint64_t(1'000'000 + i));
        EXPECT_EQ(r[ri].imm, uint32_t(i));
        ++ri;
        [[fallthrough]];
      case WrOpcode::rdma_write:
        EXPECT_EQ(0, std::memcmp(p.b.buf() + op.dst_off, src.data() + op.src_off, op.len)) << i;
        break;
      case WrOpcode::rdma_read:
        EXPECT_EQ(0, std::memcmp(p.a.buf() + op.dst_off, src.data() + op.src_off, op.len)) << i;
        break;
      default: {
        uint64_t orig;
        std::memcpy(&orig, p.a.buf() + op.dst_off, 8);
        EXPECT_EQ(orig, uint64_t(faa_seen)) << "atomic " << i << " executed more or less than once";
        ++faa_seen;
      }
    }
  }
  EXPECT_EQ(ri, r.size());  // no extra deliveries
  uint64_t counter;
  std::memcpy(&counter, p.b.buf() + counter_off, 8);
  EXPECT_EQ(counter, uint64_t(faas));
  EXPECT_TRUE(p.a.guards_intact());
  EXPECT_TRUE(p.b.guards_intact());
  if (prm.loss_pct > 0) {
    EXPECT_GT(p.a.qp->stats().retransmits, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, Soak,
    ::testing::Values(SoakParam{1, 0, 0, 0, Mtu::mtu1024, false}, SoakParam{2, 1, 1, 5, Mtu::mtu1024, false},
                      SoakParam{3, 5, 2, 10, Mtu::mtu4096, false}, SoakParam{4, 5, 2, 10, Mtu::mtu256, false},
                      SoakParam{5, 3, 3, 30, Mtu::mtu2048, false}, SoakParam{6, 2, 1, 50, Mtu::mtu1024, true},
                      SoakParam{7, 5, 2, 30, Mtu::mtu512, true}));

}  // namespace
}  // namespace rfab::rc::test
