// The IBTA QP state machine through modify(), posting rules per state, and flushing on ERR.
#include <cstring>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {

struct Fixture {
  ProtectionDomain pd;
  CompletionQueue cq{64};
  std::vector<uint8_t> mem = std::vector<uint8_t>(4096);
  MemoryRegion* mr = pd.reg_mr(mem.data(), mem.size(), kLocalWrite);
  QpInit init() {
    QpInit i;
    i.pd = &pd;
    i.send_cq = &cq;
    i.recv_cq = &cq;
    i.qp_num = 5;
    return i;
  }
};

TEST(State, CreationRejectsBadInit) {
  Fixture f;
  QpInit i = f.init();
  i.qp_num = 0;
  EXPECT_THROW(QueuePair{i}, std::invalid_argument);
  i = f.init();
  i.qp_num = 1u << 24;
  EXPECT_THROW(QueuePair{i}, std::invalid_argument);
  i = f.init();
  i.pd = nullptr;
  EXPECT_THROW(QueuePair{i}, std::invalid_argument);
  i = f.init();
  i.cap.max_send_sge = 0;
  EXPECT_THROW(QueuePair{i}, std::invalid_argument);
}

TEST(State, TransitionsNeedTheirAttributes) {
  Fixture f;
  QueuePair qp(f.init());
  EXPECT_EQ(qp.state(), QpState::reset);
  QpAttr a;
  a.qp_state = QpState::rtr;
  Status s = qp.modify(a, kQpState);
  EXPECT_EQ(s.code, Errc::bad_transition);
  a.qp_state = QpState::init;
  s = qp.modify(a, kQpState);
  EXPECT_EQ(s.code, Errc::missing_attribute);
  EXPECT_NE(std::string(s.what).find("qp_access_flags"), std::string::npos);
  ASSERT_TRUE(qp.modify(a, kQpState | kQpAccessFlags | kQpPkeyIndex | kQpPort).ok());
  EXPECT_EQ(qp.state(), QpState::init);

  a.qp_state = QpState::rtr;
  s = qp.modify(a, kQpState | kQpPathMtu | kQpDestQpn | kQpRqPsn | kQpMaxDestRdAtomic);
  EXPECT_EQ(s.code, Errc::missing_attribute);
  EXPECT_NE(std::string(s.what).find("min_rnr_timer"), std::string::npos);
  a.path_mtu = static_cast<Mtu>(6);
  s = qp.modify(a, kQpState | kQpPathMtu | kQpDestQpn | kQpRqPsn | kQpMaxDestRdAtomic | kQpMinRnrTimer);
  EXPECT_EQ(s.code, Errc::invalid_argument);
  a.path_mtu = Mtu::mtu4096;
  a.rq_psn = 1u << 24;
  s = qp.modify(a, kQpState | kQpPathMtu | kQpDestQpn | kQpRqPsn | kQpMaxDestRdAtomic | kQpMinRnrTimer);
  EXPECT_EQ(s.code, Errc::invalid_argument);
  a.rq_psn = 77;
  a.dest_qp_num = 9;
  ASSERT_TRUE(qp.modify(a, kQpState | kQpPathMtu | kQpDestQpn | kQpRqPsn | kQpMaxDestRdAtomic | kQpMinRnrTimer).ok());
  EXPECT_EQ(qp.state(), QpState::rtr);

  a.qp_state = QpState::rts;
  a.retry_cnt = 8;
  s = qp.modify(a, kQpState | kQpTimeout | kQpRetryCnt | kQpRnrRetry | kQpSqPsn | kQpMaxQpRdAtomic);
  EXPECT_EQ(s.code, Errc::invalid_argument);
  a.retry_cnt = 3;
  a.sq_psn = 0xABCDEF;
  ASSERT_TRUE(qp.modify(a, kQpState | kQpTimeout | kQpRetryCnt | kQpRnrRetry | kQpSqPsn | kQpMaxQpRdAtomic).ok());
  EXPECT_EQ(qp.state(), QpState::rts);
  QpAttr q = qp.query();
  EXPECT_EQ(q.sq_psn, 0xABCDEFu);
  EXPECT_EQ(q.rq_psn, 77u);
  EXPECT_EQ(q.path_mtu, Mtu::mtu4096);
  EXPECT_EQ(q.dest_qp_num, 9u);

  a.qp_state = QpState::sqd;
  ASSERT_TRUE(qp.modify(a, kQpState).ok());
  a.qp_state = QpState::rts;
  ASSERT_TRUE(qp.modify(a, kQpState).ok());
  a.qp_state = QpState::init;
  EXPECT_EQ(qp.modify(a, kQpState).code, Errc::bad_transition);
  a.qp_state = QpState::err;
  ASSERT_TRUE(qp.modify(a, kQpState).ok());
  a.qp_state = QpState::rts;
  EXPECT_EQ(qp.modify(a, kQpState).code, Errc::bad_transition);
  a.qp_state = QpState::reset;
  ASSERT_TRUE(qp.modify(a, kQpState).ok());
  EXPECT_EQ(qp.state(), QpState::reset);
}

TEST(State, PostingRulesAndFlushOnError) {
  Fixture f;
  QueuePair qp(f.init());
  const Sge s{f.mr->iova(), 64, f.mr->lkey()};
  SendWr wr;
  wr.sg_list = {&s, 1};
  EXPECT_EQ(qp.post_send(wr).code, Errc::invalid_state);
  EXPECT_EQ(qp.post_recv(RecvWr{1, {&s, 1}}).code, Errc::invalid_state);
  QpAttr a;
  a.qp_state = QpState::init;
  ASSERT_TRUE(qp.modify(a, kQpState | kQpAccessFlags | kQpPkeyIndex | kQpPort).ok());
  EXPECT_EQ(qp.post_send(wr).code, Errc::invalid_state);  // the send queue opens at RTS
  ASSERT_TRUE(qp.post_recv(RecvWr{1, {&s, 1}}).ok());
  ASSERT_TRUE(qp.post_recv(RecvWr{2, {&s, 1}}).ok());
  const Sge bad{f.mr->iova() + 4000, 200, f.mr->lkey()};
  Status st = qp.post_recv(RecvWr{3, {&bad, 1}});
  EXPECT_EQ(st.code, Errc::bad_lkey);
  EXPECT_NE(std::string(st.what).find("outside"), std::string::npos);
  const Sge badkey{f.mr->iova(), 1, f.mr->lkey() + 1};
  EXPECT_EQ(qp.post_recv(RecvWr{3, {&badkey, 1}}).code, Errc::bad_lkey);

  a.qp_state = QpState::err;
  ASSERT_TRUE(qp.modify(a, kQpState).ok());
  WorkCompletion wc[4];
  ASSERT_EQ(poll_cq(f.cq, 4, wc), 2);
  EXPECT_EQ(wc[0].wr_id, 1u);
  EXPECT_EQ(wc[0].status, WcStatus::wr_flush_err);
  EXPECT_EQ(wc[1].wr_id, 2u);
  // In ERR, posted WRs complete at once with a flush error (as ibverbs).
  wr.wr_id = 42;
  ASSERT_TRUE(qp.post_send(wr).ok());
  ASSERT_EQ(poll_cq(f.cq, 4, wc), 1);
  EXPECT_EQ(wc[0].wr_id, 42u);
  EXPECT_EQ(wc[0].status, WcStatus::wr_flush_err);
}

TEST(State, QueueLimits) {
  Fixture f;
  QpInit i = f.init();
  i.cap.max_recv_wr = 2;
  i.cap.max_recv_sge = 1;
  QueuePair qp(i);
  QpAttr a;
  a.qp_state = QpState::init;
  ASSERT_TRUE(qp.modify(a, kQpState | kQpAccessFlags | kQpPkeyIndex | kQpPort).ok());
  const Sge s[2] = {{f.mr->iova(), 8, f.mr->lkey()}, {f.mr->iova(), 8, f.mr->lkey()}};
  EXPECT_EQ(qp.post_recv(RecvWr{1, {s, 2}}).code, Errc::too_many_sge);
  ASSERT_TRUE(qp.post_recv(RecvWr{1, {s, 1}}).ok());
  ASSERT_TRUE(qp.post_recv(RecvWr{2, {s, 1}}).ok());
  EXPECT_EQ(qp.post_recv(RecvWr{3, {s, 1}}).code, Errc::queue_full);
}

TEST(State, ReadTargetNeedsLocalWrite) {
  Pair p;
  MemoryRegion* ro = p.a.pd.reg_mr(p.a.buf(), 64, kRemoteRead);
  const Sge s{ro->iova(), 8, ro->lkey()};
  SendWr wr;
  wr.opcode = WrOpcode::rdma_read;
  wr.sg_list = {&s, 1};
  EXPECT_EQ(p.a.qp->post_send(wr).code, Errc::bad_lkey);
  wr.opcode = WrOpcode::atomic_fetch_and_add;
  const Sge s4{p.a.va(0), 4, p.a.mr->lkey()};
  wr.sg_list = {&s4, 1};
  EXPECT_EQ(p.a.qp->post_send(wr).code, Errc::invalid_argument);
}

}  // namespace
}  // namespace rfab::rc::test
