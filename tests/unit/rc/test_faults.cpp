// Loss, duplication, reordering, RNR, remote errors, retry exhaustion and PSN wrap, each scripted exactly.
#include <cstring>
#include <map>

#include "harness.hpp"
#include "rfab/wire/packet.hpp"

namespace rfab::rc::test {
namespace {

namespace op = wire::op;

// Drop the first transmission of A's request with this PSN offset from the start PSN.
std::function<Fate(const WirePacket&)> drop_first_a(uint32_t psn) {
  auto done = std::make_shared<bool>(false);
  return [=](const WirePacket& w) {
    if (w.from == 0 && w.psn == psn && !w.retransmit && !*done) {
      *done = true;
      return Fate{true};
    }
    return Fate{};
  };
}

TEST(Faults, LostMiddlePacketGivesSequenceNakAndGoBackN) {
  Pair p;
  const auto data = pattern(10 * 1024, 1);
  std::memcpy(p.a.buf(), data.data(), data.size());
  p.fate = drop_first_a(p.opts.psn_a + 3);
  const Sge s = sge(p.a, 0, 10 * 1024);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), data.size()));
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 1u);
  EXPECT_EQ(p.a.qp->stats().seq_naks_received, 1u);
  EXPECT_EQ(p.a.qp->stats().timeouts, 0u);
  EXPECT_EQ(p.a.qp->stats().retransmits, 7u);  // PSNs +3..+9 again
}

TEST(Faults, LostLastPacketIsRecoveredByAckTimeout) {
  Pair p;
  const auto data = pattern(4096, 2);
  std::memcpy(p.a.buf(), data.data(), data.size());
  p.fate = drop_first_a(p.opts.psn_a + 3);
  const Sge s = sge(p.a, 0, 4096);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), data.size()));
  EXPECT_EQ(p.a.qp->stats().timeouts, 1u);
  // The first three were ACKed (AckReq every 32 packets, so not before the timeout): go-back-N resends all 4.
  EXPECT_GE(p.a.qp->stats().retransmits, 1u);
  EXPECT_GE(p.now, ack_timeout_ns(p.opts.timeout));
}

TEST(Faults, RetryExhaustionCompletesWithErrorAndFlushes) {
  ConnectOpts o;
  o.retry_cnt = 3;
  Pair p(1 << 16, o);
  p.fate = [](const WirePacket& w) { return Fate{w.from == 0}; };  // the peer is gone
  const Sge s = sge(p.a, 0, 100);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0, 1)).ok());
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0, 2)).ok());
  auto wc = drain(p, p.a, 2);
  ASSERT_EQ(wc.size(), 2u);
  EXPECT_EQ(wc[0].wr_id, 1u);
  EXPECT_EQ(wc[0].status, WcStatus::retry_exc_err);
  EXPECT_EQ(wc[1].wr_id, 2u);
  EXPECT_EQ(wc[1].status, WcStatus::wr_flush_err);
  EXPECT_EQ(p.a.qp->state(), QpState::err);
  EXPECT_EQ(p.a.qp->stats().timeouts, 4u);  // first try + 3 retries
  EXPECT_EQ(p.a.qp->next_deadline(), kNever);
}

TEST(Faults, LostAckMakesDuplicateThatIsReAckedNotRedelivered) {
  Pair p;
  const Sge rs = sge(p.b, 0, 100);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{1, {&rs, 1}}).ok());
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{2, {&rs, 1}}).ok());
  bool dropped = false;
  p.fate = [&](const WirePacket& w) {
    if (w.from == 1 && w.opcode == op::RC_ACK && !dropped) {
      dropped = true;
      return Fate{true};
    }
    return Fate{};
  };
  const Sge s = sge(p.a, 0, 50);
  SendWr wr;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(p.b.qp->stats().duplicates, 1u);
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 1u);  // delivered exactly once
  EXPECT_EQ(r[0].wr_id, 1u);
}

TEST(Faults, DuplicatedPacketsAreDeliveredOnce) {
  Pair p;
  std::vector<Sge> rs(20);
  for (int i = 0; i < 20; ++i) {
    rs[i] = sge(p.b, size_t(i) * 3000, 3000);
    ASSERT_TRUE(p.b.qp->post_recv(RecvWr{uint64_t(i), {&rs[i], 1}}).ok());
  }
  p.fate = [](const WirePacket&) { return Fate{false, 2}; };  // every packet twice, both directions
  const auto data = pattern(3000, 3);
  std::memcpy(p.a.buf(), data.data(), data.size());
  const Sge s = sge(p.a, 0, 3000);
  for (int i = 0; i < 20; ++i) {
    SendWr wr;
    wr.wr_id = uint64_t(i);
    wr.sg_list = {&s, 1};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  }
  auto wc = drain(p, p.a, 20);
  ASSERT_EQ(wc.size(), 20u);
  p.run();
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(r[i].wr_id, uint64_t(i));
    EXPECT_EQ(r[i].status, WcStatus::success);
    EXPECT_EQ(0, std::memcmp(p.b.buf() + size_t(i) * 3000, data.data(), 3000));
  }
}

TEST(Faults, RnrNakBacksOffAndRetriesUntilAReceiveIsPosted) {
  ConnectOpts o;
  o.min_rnr_timer = 14;  // 1.28 ms
  Pair p(1 << 16, o);
  const Sge s = sge(p.a, 0, 64);
  SendWr wr;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  // Let a few RNR NAKs happen, then post the receive.
  ASSERT_TRUE(p.run([&] { return p.a.qp->stats().rnr_naks_received >= 3; }));
  EXPECT_TRUE(p.a.poll(p.a.scq).empty());
  const Nanos t_rnr = p.now;
  const Sge rs = sge(p.b, 0, 64);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{5, {&rs, 1}}).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_GE(t_rnr, 2 * rnr_timer_ns(14));  // it waited the advertised timer between tries
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].wr_id, 5u);
  EXPECT_EQ(p.a.qp->stats().timeouts, 0u);
}

TEST(Faults, RnrRetryExhaustion) {
  ConnectOpts o;
  o.rnr_retry = 2;
  Pair p(1 << 16, o);
  const Sge s = sge(p.a, 0, 64);
  SendWr wr;
  wr.sg_list = {&s, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::rnr_retry_exc_err);
  EXPECT_EQ(p.a.qp->stats().rnr_naks_received, 3u);
  EXPECT_EQ(p.a.qp->state(), QpState::err);
}

struct AccessCase {
  const char* name;
  std::function<void(Pair&, SendWr&)> tweak;
  WcStatus expect;
};

TEST(Faults, RemoteAccessViolationsNakAndLeaveMemoryUntouched) {
  const std::vector<AccessCase> cases = {
      {"bad rkey", [](Pair& p, SendWr& w) { w.rdma.rkey = p.b.mr->rkey() ^ 0x100; }, WcStatus::rem_access_err},
      {"past the end", [](Pair& p, SendWr& w) { w.rdma.remote_addr = p.b.va(p.b.mr->length() - 100); },
       WcStatus::rem_access_err},
      {"before the start", [](Pair& p, SendWr& w) { w.rdma.remote_addr = p.b.va(0) - 8; }, WcStatus::rem_access_err},
      {"MR without REMOTE_WRITE",
       [](Pair& p, SendWr& w) { w.rdma.rkey = p.b.pd.reg_mr(p.b.buf(), 8192, kLocalWrite | kRemoteRead)->rkey(); },
       WcStatus::rem_access_err},
      {"READ from MR without REMOTE_READ",
       [](Pair& p, SendWr& w) {
         w.opcode = WrOpcode::rdma_read;
         w.rdma.rkey = p.b.pd.reg_mr(p.b.buf(), 8192, kLocalWrite | kRemoteWrite)->rkey();
       },
       WcStatus::rem_access_err},
      {"misaligned atomic",
       [](Pair& p, SendWr& w) {
         w.opcode = WrOpcode::atomic_fetch_and_add;
         w.sg_list = w.sg_list.first(1);
         w.atomic = {p.b.va(4), 1, 0, p.b.mr->rkey()};
       },
       WcStatus::rem_inv_req_err},
      {"atomic past the end",
       [](Pair& p, SendWr& w) {
         w.opcode = WrOpcode::atomic_cmp_and_swp;
         w.atomic = {p.b.va(p.b.mr->length()), 0, 5, p.b.mr->rkey()};
       },
       WcStatus::rem_access_err},
  };
  for (const AccessCase& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p(1 << 16);
    std::memset(p.a.buf(), 0x5C, 8192);
    std::memset(p.b.buf(), 0x33, p.b.mr->length());
    const std::vector<uint8_t> before(p.b.mem);
    Sge s = sge(p.a, 0, 3000);
    SendWr wr = write_wr(p, s, 0, 1);
    c.tweak(p, wr);
    if (wr.opcode == WrOpcode::atomic_fetch_and_add || wr.opcode == WrOpcode::atomic_cmp_and_swp) s.length = 8;
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
    SendWr next = write_wr(p, s, 0, 2);
    ASSERT_TRUE(p.a.qp->post_send(next).ok());
    auto wc = drain(p, p.a, 2);
    ASSERT_EQ(wc.size(), 2u);
    EXPECT_EQ(wc[0].wr_id, 1u);
    EXPECT_EQ(wc[0].status, c.expect) << to_string(wc[0].status);
    EXPECT_EQ(wc[1].status, WcStatus::wr_flush_err);
    EXPECT_EQ(p.a.qp->state(), QpState::err);
    EXPECT_EQ(p.b.qp->state(), QpState::err);
    EXPECT_TRUE(p.b.mem == before) << "responder memory changed";
    EXPECT_EQ(p.a.qp->stats().timeouts, 0u);
  }
}

TEST(Faults, SendLongerThanReceiveBuffer) {
  Pair p;
  post_send_and_recv(p, 101, 100);
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::rem_inv_req_err);
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, WcStatus::loc_len_err);
}

TEST(Faults, AtomicDuplicateIsReplayedFromSavedResult) {
  Pair p;
  uint64_t v = 1000;
  std::memcpy(p.b.buf(), &v, 8);
  bool dropped = false;
  p.fate = [&](const WirePacket& w) {
    if (w.from == 1 && w.opcode == op::RC_ATOMIC_ACK && !dropped) {
      dropped = true;
      return Fate{true};
    }
    return Fate{};
  };
  const Sge s = sge(p.a, 0, 8);
  SendWr wr;
  wr.opcode = WrOpcode::atomic_fetch_and_add;
  wr.sg_list = {&s, 1};
  wr.atomic = {p.b.va(0), 5, 0, p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  uint64_t got;
  std::memcpy(&got, p.a.buf(), 8);
  EXPECT_EQ(got, 1000u);  // the saved original, not the value after the first add
  std::memcpy(&v, p.b.buf(), 8);
  EXPECT_EQ(v, 1005u);  // executed once
  EXPECT_EQ(p.b.qp->stats().duplicates, 1u);
  EXPECT_EQ(p.a.qp->stats().timeouts, 1u);
}

TEST(Faults, ReadWithManyResponsesSurvivesALostMiddleResponse) {
  Pair p;
  const auto data = pattern(20000, 6);
  std::memcpy(p.b.buf(), data.data(), data.size());
  bool dropped = false;
  int responses = 0;
  p.fate = [&](const WirePacket& w) {
    if (w.from == 1 && (w.opcode >= op::RC_READ_RESPONSE_FIRST && w.opcode <= op::RC_READ_RESPONSE_ONLY)) {
      ++responses;
      if (w.psn == p.opts.psn_a + 5 && !dropped) {
        dropped = true;
        return Fate{true};
      }
    }
    return Fate{};
  };
  const Sge s = sge(p.a, 0, 20000);
  ASSERT_TRUE(p.a.qp->post_send(read_wr(p, s, 0)).ok());
  auto wc = drain(p, p.a, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.a.buf(), data.data(), data.size()));
  EXPECT_GE(responses, 20 + 15);  // 20 responses, then the rest from PSN +5 again
  EXPECT_GE(p.b.qp->stats().duplicates, 1u);  // the re-sent READ for the remainder
}

// A slow responder behind a queue: B's responses leave one per 50 us (a slow software RNIC, or a link with
// a deep queue), 16 READs of 64 KiB outstanding, one early response lost. After the go-back-N resend the
// queue still holds about 50 ms of responses to the READs that follow the hole, ten times the ACK timeout:
// each is evidence that the responder is alive and working through our requests, so the timer waits for
// them instead of spending the retry budget.
TEST(Faults, ReadsQueuedBehindASlowResponderSurviveALostResponse) {
  Pair p;  // ACK timeout 4.1 ms, retry_cnt 7, 16 READs outstanding
  constexpr uint32_t kReads = 16, kLen = 64 * 1024;
  const auto data = pattern(kReads * kLen, 9);
  std::memcpy(p.b.buf(), data.data(), data.size());
  Nanos link_free = 0;
  bool dropped = false;
  p.fate = [&](const WirePacket& w) {
    if (w.from != 1) return Fate{};
    if (!dropped && w.psn == p.opts.psn_a + 3) {
      dropped = true;
      return Fate{true};
    }
    link_free = std::max(link_free, p.now) + 50'000;  // one packet per 50 us, FIFO
    return Fate{false, 1, link_free - p.now};
  };
  std::vector<Sge> sges;
  for (uint32_t i = 0; i < kReads; ++i) sges.push_back(sge(p.a, size_t{i} * kLen, kLen));
  for (uint32_t i = 0; i < kReads; ++i) {
    SendWr wr = read_wr(p, sges[i], size_t{i} * kLen);
    wr.wr_id = i;
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  }
  auto wc = drain(p, p.a, kReads);
  ASSERT_EQ(wc.size(), kReads);
  for (const auto& c : wc) EXPECT_EQ(c.status, WcStatus::success) << "wr " << c.wr_id;
  EXPECT_EQ(0, std::memcmp(p.a.buf(), data.data(), data.size()));
  EXPECT_TRUE(p.a.guards_intact());
}

TEST(Faults, PsnWrapsAt2To24) {
  ConnectOpts o;
  o.psn_a = 0xFFFFF0;
  o.psn_b = 0xFFFFFE;
  o.mtu = Mtu::mtu256;
  Pair p(1 << 16, o);
  const auto data = pattern(40 * 256, 7);
  std::memcpy(p.a.buf(), data.data(), data.size());
  std::memcpy(p.b.buf() + 20000, data.data(), data.size());
  // Lose the packets just before and just after the wrap.
  std::map<uint32_t, bool> lost;
  p.fate = [&](const WirePacket& w) {
    if (w.from == 0 && (w.psn == 0xFFFFFF || w.psn == 0x000001) && !lost[w.psn]) {
      lost[w.psn] = true;
      return Fate{true};
    }
    return Fate{};
  };
  const Sge s = sge(p.a, 0, uint32_t(data.size()));
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  const Sge r = sge(p.a, 30000, uint32_t(data.size()));
  SendWr rd;
  rd.opcode = WrOpcode::rdma_read;
  rd.sg_list = {&r, 1};
  rd.rdma = {p.b.va(20000), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(rd).ok());
  auto wc = drain(p, p.a, 2);
  ASSERT_EQ(wc.size(), 2u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(wc[1].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), data.size()));
  EXPECT_EQ(0, std::memcmp(p.a.buf() + 30000, data.data(), data.size()));
  EXPECT_EQ(lost.size(), 2u);
  EXPECT_EQ(p.a.qp->query().sq_psn, (0xFFFFF0u + 80u) & 0xFFFFFFu);
  // B -> A across B's wrap too.
  const Sge bs = sge(p.b, 0, 1000);
  SendWr bw;
  bw.opcode = WrOpcode::rdma_write;
  bw.sg_list = {&bs, 1};
  bw.rdma = {p.a.va(60000), p.a.mr->rkey()};
  ASSERT_TRUE(p.b.qp->post_send(bw).ok());
  wc = drain(p, p.b, 1);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].status, WcStatus::success);
  EXPECT_EQ(0, std::memcmp(p.a.buf() + 60000, data.data(), 1000));
}

// Counts what the QP reports to its congestion controller.
class CountingCc final : public cc::Controller {
 public:
  double rate_bps(Nanos) const override { return 10e9; }
  void on_cnp(Nanos) override { ++cnps; }
  void on_send(Nanos, uint64_t b) override { sent += b; }
  void on_ack(Nanos, uint64_t b) override { acked += b; }
  void on_timer(Nanos) override {}
  Nanos next_timer() const override { return kNever; }
  cc::ControllerStats summary(Nanos) const override { return {static_cast<uint64_t>(cnps), 0, 10e9, 10e9}; }
  int cnps = 0;
  uint64_t sent = 0, acked = 0;
};

TEST(Faults, EcnMarksBecomeRateLimitedCnpsThatReachTheController) {
  CountingCc cca;
  ProtectionDomain pda, pdb;
  CompletionQueue cqa(1024), cqb(1024);
  std::vector<uint8_t> ma(1 << 20), mb(1 << 20);
  MemoryRegion* ra = pda.reg_mr(ma.data(), ma.size(), kLocalWrite);
  MemoryRegion* rb = pdb.reg_mr(mb.data(), mb.size(), kLocalWrite | kRemoteWrite);
  QpInit ia{&pda, &cqa, &cqa, {}, 0x11, &cca, {}};
  ia.tuning.cnp_interval = 50'000;
  QpInit ib{&pdb, &cqb, &cqb, {}, 0x22, nullptr, {}};
  ib.tuning.cnp_interval = 50'000;
  QueuePair a(ia), b(ib);
  ConnectOpts o;
  connect(a, 0x22, 1, 2, o);
  connect(b, 0x11, 2, 1, o);
  const Sge s{ra->iova(), 1 << 20, ra->lkey()};
  SendWr wr;
  wr.opcode = WrOpcode::rdma_write;
  wr.sg_list = {&s, 1};
  wr.rdma = {rb->iova(), rb->rkey()};
  ASSERT_TRUE(a.post_send(wr).ok());
  // Every data packet arrives CE-marked; one packet every 1 us for ~1 ms.
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  Nanos now = 0;
  int cnps_seen = 0;
  uint16_t cnp_dst = 0;
  for (int i = 0; i < 1024; ++i, now += 1000) {
    ASSERT_TRUE(a.poll_transmit(now, pkt));
    EXPECT_TRUE(pkt.is_data);
    b.handle_packet(now, std::span<const uint8_t>(buf.data(), pkt.len), RxMeta{true, 0});
    while (b.poll_transmit(now, pkt)) {
      if (pkt.is_cnp) {
        ++cnps_seen;
        cnp_dst = static_cast<uint16_t>(pkt.dest_qp);
        auto dec = wire::decode_roce(std::span<const uint8_t>(buf.data(), pkt.len));
        ASSERT_TRUE(dec.ok());
        EXPECT_EQ(dec->f.bth.opcode, 0x81);
        EXPECT_TRUE(dec->f.bth.becn);
      }
      a.handle_packet(now, std::span<const uint8_t>(buf.data(), pkt.len), RxMeta{});
    }
  }
  // 1024 us of marks at one CNP per 50 us: 21 CNPs (t = 0, 50, ..., 1000 us).
  EXPECT_EQ(cnps_seen, 21);
  EXPECT_EQ(cnp_dst, 0x11);
  EXPECT_EQ(cca.cnps, 21);
  EXPECT_EQ(b.stats().ecn_ce_received, 1024u);
  EXPECT_EQ(cca.sent, 1u << 20);
  EXPECT_GT(a.next_send_time(), now - 1000);  // paced at 10 Gb/s: 1 KiB packets every ~0.8 us
  EXPECT_DOUBLE_EQ(a.rate_bps(now), 10e9);
}

}  // namespace
}  // namespace rfab::rc::test
