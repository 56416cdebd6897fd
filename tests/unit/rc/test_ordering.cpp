// Fences, SQD draining, solicited events, dereg of an in-use MR, and a responder without READ resources.
#include <cstring>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {

namespace op = wire::op;

TEST(Ordering, FencedWriteWaitsForEarlierReadResponses) {
  Pair p;
  std::memset(p.b.buf(), 0x11, 8192);
  const Sge rd = sge(p.a, 0, 8192);
  ASSERT_TRUE(p.a.qp->post_send(read_wr(p, rd, 0)).ok());
  // The fenced WRITE overwrites the READ's source: without the fence it could land first.
  std::memset(p.a.buf() + 16384, 0x22, 8192);
  const Sge ws = sge(p.a, 16384, 8192);
  SendWr write;
  write.opcode = WrOpcode::rdma_write;
  write.send_flags = kSignaled | kFence;
  write.sg_list = {&ws, 1};
  write.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(write).ok());
  auto wc = drain(p, p.a, 2);
  ASSERT_EQ(wc.size(), 2u);
  // No WRITE packet left before the last READ response arrived.
  size_t last_resp = 0, first_write = p.log.size();
  for (size_t i = 0; i < p.log.size(); ++i) {
    if (p.log[i].from == 1 && p.log[i].opcode == op::RC_READ_RESPONSE_LAST) last_resp = i;
    if (p.log[i].from == 0 && p.log[i].opcode == op::RC_WRITE_FIRST && first_write == p.log.size()) first_write = i;
  }
  EXPECT_LT(last_resp, first_write);
  for (int i = 0; i < 8192; ++i) ASSERT_EQ(p.a.buf()[i], 0x11);
  for (int i = 0; i < 8192; ++i) ASSERT_EQ(p.b.buf()[i], 0x22);
}

TEST(Ordering, SqdFinishesStartedWorkAndStartsNothingNew) {
  Pair p;
  const Sge s = sge(p.a, 0, 4096);
  SendWr wr;
  wr.opcode = WrOpcode::rdma_write;
  wr.sg_list = {&s, 1};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  wr.wr_id = 1;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  // Start the first WQE (one packet out), then drain the send queue.
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  ASSERT_TRUE(p.a.qp->poll_transmit(0, pkt));
  std::vector<uint8_t> first(buf.begin(), buf.begin() + static_cast<long>(pkt.len));
  QpAttr a;
  a.qp_state = QpState::sqd;
  ASSERT_TRUE(p.a.qp->modify(a, kQpState).ok());
  wr.wr_id = 2;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());  // queued, not started while in SQD
  ASSERT_TRUE(p.b.qp->handle_packet(0, first, {}) == RxResult::accepted);
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].wr_id, 1u);
  p.run();
  EXPECT_TRUE(p.a.poll(p.a.scq).empty());
  a.qp_state = QpState::rts;
  ASSERT_TRUE(p.a.qp->modify(a, kQpState).ok());
  wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].wr_id, 2u);
}

TEST(Ordering, SolicitedFlagSetsSeOnTheLastPacketOnly) {
  Pair p;
  const Sge rs = sge(p.b, 0, 5000);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{1, {&rs, 1}}).ok());
  std::vector<bool> se;
  std::vector<uint8_t> buf(kMaxPacketBytes);
  const Sge s = sge(p.a, 0, 3000);
  SendWr wr;
  wr.send_flags = kSignaled | kSolicited;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  TxPacket pkt;
  pkt.buf = buf;
  while (p.a.qp->poll_transmit(0, pkt)) {
    auto d = wire::decode_roce(std::span<const uint8_t>(buf.data(), pkt.len));
    ASSERT_TRUE(d.ok());
    se.push_back(d->f.bth.se);
  }
  EXPECT_EQ(se, (std::vector<bool>{false, false, true}));
}

TEST(Ordering, DeregisteredSourceMrFailsWithLocalProtectionError) {
  Pair p;
  MemoryRegion* extra = p.a.pd.reg_mr(p.a.buf() + 8192, 4096, kLocalWrite);
  const Sge s{extra->iova(), 4096, extra->lkey()};
  SendWr wr;
  wr.opcode = WrOpcode::rdma_write;
  wr.sg_list = {&s, 1};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  ASSERT_TRUE(p.a.pd.dereg_mr(extra).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::loc_prot_err);
  EXPECT_EQ(p.a.qp->state(), QpState::err);
}

TEST(Ordering, ResponderWithoutReadResourcesRejectsRead) {
  ConnectOpts o;
  o.max_rd_atomic = 0;  // both sides: B keeps no READ/atomic resources
  Pair p(1 << 16, o);
  const Sge s = sge(p.a, 0, 64);
  SendWr wr;
  wr.opcode = WrOpcode::rdma_read;
  wr.sg_list = {&s, 1};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  EXPECT_EQ(p.a.qp->post_send(wr).code, Errc::invalid_state);  // our max_rd_atomic is 0 as well
  // Raise our side's limit (RTS->RTS) so the request goes out; B still has none.
  QpAttr a;
  a.max_rd_atomic = 1;
  ASSERT_TRUE(p.a.qp->modify(a, kQpMaxQpRdAtomic).ok());
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::rem_inv_req_err);
}

// Spraying over 4 entropies, and a reorder window of 8 PSNs.
ConnectOpts spray4() {
  ConnectOpts o;
  o.entropy = {EntropyPolicy::Kind::spray, 4, 0};
  return o;
}
QpTuning window8() {
  QpTuning t;
  t.reorder_window = 8;
  return t;
}

TEST(Ordering, SprayHoleInsideTheWindowIsFoundByTheTimerNotByANak) {
  const ConnectOpts o = spray4();
  const QpTuning t = window8();
  Pair p(1 << 20, o, {}, t);
  p.fate = drop_a({p.opts.psn_a});
  const Sge s = sge(p.a, 0, 16 * 1024);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(p.a.qp->stats().timeouts, 1u);       // the hole inside the window is found by the timer
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 0u);  // the requester keeps <= 8 out: the window never overflows
  EXPECT_EQ(p.b.qp->stats().out_of_order, 7u);   // PSNs +1..+7 placed while +0 was missing
}

TEST(Ordering, SprayPsnBeyondTheWindowGetsOneSequenceNak) {
  const ConnectOpts o = spray4();
  const QpTuning t = window8();
  Pair p(1 << 16, o, {}, t);
  auto write_at = [&](uint32_t psn) {
    wire::RoceFields f;
    f.bth.opcode = op::RC_WRITE_ONLY;
    f.bth.dest_qp = 0x22;
    f.bth.psn = psn;
    f.reth = {p.b.va(0), p.b.mr->rkey(), 4};
    const uint8_t data[4] = {1, 2, 3, 4};
    std::vector<uint8_t> out(wire::roce_encoded_len(f.bth.opcode, 4));
    EXPECT_TRUE(wire::encode_roce(f, data, out).ok());
    return out;
  };
  const uint32_t e = p.opts.psn_a;
  EXPECT_EQ(p.b.qp->handle_packet(0, write_at(e + 7), {}), RxResult::accepted);  // inside: held
  EXPECT_EQ(p.b.qp->handle_packet(0, write_at(e + 8), {}), RxResult::out_of_window);
  EXPECT_EQ(p.b.qp->handle_packet(0, write_at(e + 9), {}), RxResult::out_of_window);
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 1u);  // one NAK per hole
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  ASSERT_TRUE(p.b.qp->poll_transmit(0, pkt));
  auto d = wire::decode_roce(std::span<const uint8_t>(buf.data(), pkt.len));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->f.bth.opcode, op::RC_ACK);
  EXPECT_EQ(d->f.aeth.type(), wire::AckType::nak);
  EXPECT_EQ(d->f.aeth.value(), 0);  // PSN sequence error
  EXPECT_EQ(d->f.bth.psn, e);
}

TEST(Ordering, AcksAreCoalesced) {
  Pair p;
  const Sge s = sge(p.a, 0, 64 * 1024);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  ASSERT_EQ(drain(p, p.a, 1).size(), 1u);
  // 64 packets: an ACK every ack_every (16) packets or on AckReq, not one per packet.
  EXPECT_GE(p.b.qp->stats().acks_sent, 1u);
  EXPECT_LE(p.b.qp->stats().acks_sent, 64u / 16u + 2u);
}

TEST(Ordering, PeerDyingMidReadEndsInRetryExceededNotAHang) {
  ConnectOpts o;
  o.retry_cnt = 2;
  Pair p(1 << 16, o);
  int responses = 0;
  p.fate = [&](const WirePacket& w) { return Fate{w.from == 1 && ++responses > 3}; };
  const Sge s = sge(p.a, 0, 10000);
  SendWr wr;
  wr.opcode = WrOpcode::rdma_read;
  wr.sg_list = {&s, 1};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wr.opcode = WrOpcode::rdma_write;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wc = drain(p, p.a, 2);
  ASSERT_EQ(wc.size(), 2u);
  EXPECT_EQ(wc[0].status, WcStatus::retry_exc_err);
  EXPECT_EQ(wc[1].status, WcStatus::wr_flush_err);
  EXPECT_EQ(p.a.qp->next_deadline(), kNever);
  EXPECT_LT(p.now, 10 * ack_timeout_ns(o.timeout));
}

}  // namespace
}  // namespace rfab::rc::test
