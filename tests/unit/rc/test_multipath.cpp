// Entropy policies (fixed = rxe, flowlet, spray) and out-of-order placement under spraying.
#include <cstring>
#include <map>
#include <set>

#include "harness.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc::test {
namespace {

namespace op = wire::op;

TEST(Multipath, FixedPolicyUsesTheRxePortForEveryPacket) {
  Pair p;
  post_send_and_recv(p, 10000, 10000);
  ASSERT_EQ(drain(p, p.a, 1).size(), 1u);
  ASSERT_FALSE(p.log.empty());
  for (const WirePacket& w : p.log)
    EXPECT_EQ(w.src_port, w.from == 0 ? rxe_src_port(0x11, 0x22) : rxe_src_port(0x22, 0x11));
}

TEST(Multipath, FlowletChangesPortOnlyAfterAnIdleGap) {
  ConnectOpts o;
  o.entropy = {EntropyPolicy::Kind::flowlet, 4, 100'000};
  Pair p(1 << 20, o);
  const Sge s = sge(p.a, 0, 8192);
  const SendWr wr = write_wr(p, s, 0);
  std::vector<std::set<uint16_t>> per_burst;
  for (int burst = 0; burst < 3; ++burst) {
    const size_t before = p.log.size();
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
    ASSERT_EQ(drain(p, p.a, 2).size(), 2u);
    std::set<uint16_t> ports;
    for (size_t i = before; i < p.log.size(); ++i)
      if (p.log[i].from == 0) ports.insert(p.log[i].src_port);
    per_burst.push_back(ports);
    p.now += 1'000'000;  // idle 1 ms > flowlet_gap
  }
  for (const auto& ports : per_burst) EXPECT_EQ(ports.size(), 1u);  // one flowlet per burst
  EXPECT_NE(*per_burst[0].begin(), *per_burst[1].begin());
  EXPECT_NE(*per_burst[1].begin(), *per_burst[2].begin());
}

// Spraying over 8 entropies whose paths have different delays: heavy reordering, no loss.
TEST(Multipath, SprayWithReorderingDeliversWithoutRetransmission) {
  ConnectOpts o;
  o.entropy = {EntropyPolicy::Kind::spray, 8, 0};
  o.mtu = Mtu::mtu1024;
  Pair p(4 << 20, o);
  std::map<uint16_t, Nanos> path_delay;
  std::mt19937 rng(11);
  p.fate = [&](const WirePacket& w) {
    Fate f;
    if (w.from == 0) {  // each entropy is a path with its own delay, plus jitter
      if (!path_delay.count(w.src_port)) path_delay[w.src_port] = (path_delay.size() * 7919) % 40'000;
      f.delay = path_delay[w.src_port] + rng() % 3000;
    }
    return f;
  };
  const auto data = pattern(1 << 20, 12);
  std::memcpy(p.a.buf(), data.data(), data.size());
  const Sge s = sge(p.a, 0, 1 << 20);
  SendWr wr = write_wr(p, s, 0);
  wr.opcode = WrOpcode::rdma_write_with_imm;
  wr.imm = 77;
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{1, {}}).ok());
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  // A multi-packet SEND sprayed too: held in the reorder window and delivered in order.
  const Sge rs = sge(p.b, 2 << 20, 100000);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{2, {&rs, 1}}).ok());
  const Sge ss = sge(p.a, 5000, 100000);
  SendWr send;
  send.sg_list = {&ss, 1};
  ASSERT_TRUE(p.a.qp->post_send(send).ok());
  // And a READ in between sprayed requests.
  const Sge rd = sge(p.a, 3 << 20, 50000);
  SendWr read;
  read.opcode = WrOpcode::rdma_read;
  read.sg_list = {&rd, 1};
  read.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(read).ok());
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{3, {}}).ok());

  auto wc = drain(p, p.a, 4);
  ASSERT_EQ(wc.size(), 4u);
  for (const auto& w : wc) EXPECT_EQ(w.status, WcStatus::success) << to_string(w.status);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), data.size()));
  EXPECT_EQ(0, std::memcmp(p.b.buf() + (2 << 20), data.data() + 5000, 100000));
  EXPECT_EQ(0, std::memcmp(p.a.buf() + (3 << 20), data.data(), 50000));
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].wr_id, 1u);
  EXPECT_EQ(r[0].opcode, WcOpcode::recv_rdma_with_imm);
  EXPECT_EQ(r[0].imm, 77u);
  EXPECT_EQ(r[1].wr_id, 2u);
  EXPECT_EQ(r[1].byte_len, 100000u);
  EXPECT_EQ(r[2].wr_id, 3u);

  std::set<uint16_t> ports;
  for (const WirePacket& w : p.log)
    if (w.from == 0) ports.insert(w.src_port);
  EXPECT_EQ(ports.size(), 8u);
  EXPECT_GT(p.b.qp->stats().out_of_order, 100u);  // it really was reordered
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 0u);   // and that was not taken for loss
  EXPECT_EQ(p.a.qp->stats().retransmits, 0u);
  EXPECT_EQ(p.a.qp->stats().timeouts, 0u);
}

TEST(Multipath, SprayWithLossAndReorderStillDeliversExactlyOnce) {
  ConnectOpts o;
  o.entropy = {EntropyPolicy::Kind::spray, 8, 0};
  Pair p(4 << 20, o);
  std::mt19937 rng(5);
  p.fate = [&](const WirePacket&) {
    Fate f;
    f.drop = rng() % 100 < 2;
    f.delay = rng() % 20'000;
    return f;
  };
  constexpr int kN = 100;
  std::vector<Sge> rs(kN);
  for (int i = 0; i < kN; ++i) {
    rs[i] = sge(p.b, size_t(i) * 8192, 8192);
    ASSERT_TRUE(p.b.qp->post_recv(RecvWr{uint64_t(i), {&rs[i], 1}}).ok());
  }
  const auto data = pattern(1 << 20, 13);
  std::memcpy(p.a.buf(), data.data(), data.size());
  for (int i = 0; i < kN; ++i) {
    const Sge s = sge(p.a, size_t(i) * 1000, uint32_t(1 + (i * 811) % 8192));
    SendWr wr;
    wr.wr_id = uint64_t(i);
    wr.sg_list = {&s, 1};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  }
  auto wc = drain(p, p.a, kN);
  ASSERT_EQ(wc.size(), size_t(kN));
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), size_t(kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(wc[i].status, WcStatus::success);
    EXPECT_EQ(r[i].wr_id, uint64_t(i));
    const uint32_t len = uint32_t(1 + (i * 811) % 8192);
    ASSERT_EQ(r[i].byte_len, len);
    EXPECT_EQ(0, std::memcmp(p.b.buf() + size_t(i) * 8192, data.data() + size_t(i) * 1000, len)) << i;
  }
}

}  // namespace
}  // namespace rfab::rc::test
