// handle_packet with an RxCheck (the driver's ICRC run by the QP, folded into the payload copy where the
// target is known): it behaves exactly as checking first and then calling handle_packet, and a packet
// that fails the check is dropped without changing the QP, completing anything or being acknowledged,
// however much of its payload it copied.
#include <cstring>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {

namespace op = wire::op;

// Accepts every packet, copying as the QP asks, and counts which way it was asked.
struct PassCheck : RxCheck {
  size_t verified = 0, copied = 0;
  bool verify() override {
    ++verified;
    return true;
  }
  bool copy_verify(std::span<const uint8_t> payload, uint8_t* dst) override {
    ++copied;
    std::memcpy(dst, payload.data(), payload.size());
    return true;
  }
};

// Rejects the packet; when asked to copy, writes garbage where the payload goes (a corrupt payload).
struct FailCheck : RxCheck {
  size_t verified = 0, copied = 0;
  bool verify() override {
    ++verified;
    return false;
  }
  bool copy_verify(std::span<const uint8_t> payload, uint8_t* dst) override {
    ++copied;
    std::memset(dst, 0xBD, payload.size());
    return false;
  }
};

struct Outcome {
  std::vector<WirePacket> log;
  std::vector<uint8_t> a_mem, b_mem;
  std::vector<WorkCompletion> a_wc, b_wc;
  QpStats b_stats;
  uint64_t delivered = 0;
};

// A mix of WRITEs (with and without immediate), SENDs and READs of random sizes over a lossy, duplicating,
// reordering wire; `check` (if any) is what the QPs run on every arriving packet.
Outcome run_mix(ConnectOpts o, uint32_t seed, RxCheck* check) {
  constexpr size_t kMem = 1 << 20;
  QpCap cap;
  cap.max_send_wr = cap.max_recv_wr = 512;
  Pair p(kMem, o, cap);
  if (check != nullptr) p.check = [check](std::span<const uint8_t>) -> RxCheck& { return *check; };
  std::mt19937 fate_rng(seed);
  p.fate = [&fate_rng](const WirePacket&) {
    Fate f;
    const auto r = static_cast<unsigned>(fate_rng() % 100);
    if (r < 3) f.drop = true;
    else if (r < 5) f.copies = 2;
    else if (r < 9) f.delay = 5000 + fate_rng() % 20000;
    return f;
  };
  std::mt19937 rng(seed * 7 + 1);
  const auto src = pattern(kMem / 2, seed);
  std::memcpy(p.a.buf(), src.data(), src.size());
  std::memcpy(p.b.buf() + kMem / 2, src.data(), src.size());
  std::vector<Sge> sges(200);
  size_t signaled = 0;
  for (uint64_t i = 0; i < sges.size(); ++i) {
    const uint32_t len = static_cast<uint32_t>(rng() % 20000);
    const size_t off = rng() % (kMem / 2 - len);
    sges[i] = sge(p.a, off, len);
    SendWr wr;
    wr.wr_id = i;
    wr.send_flags = kSignaled;
    wr.sg_list = {&sges[i], 1};
    switch (rng() % 4) {
      case 0: wr = write_wr(p, sges[i], rng() % (kMem / 2 - len), i); break;
      case 1:
        wr = write_wr(p, sges[i], rng() % (kMem / 2 - len), i);
        wr.opcode = WrOpcode::rdma_write_with_imm;
        wr.imm = static_cast<uint32_t>(i);
        break;
      case 2: wr.opcode = WrOpcode::send; break;
      default: {
        // READ of B's upper half into A's lower half.
        wr = read_wr(p, sges[i], kMem / 2 + rng() % (kMem / 2 - len), i);
        break;
      }
    }
    wr.send_flags = kSignaled;
    if (wr.opcode != WrOpcode::rdma_write && wr.opcode != WrOpcode::rdma_read) {
      const Sge rs = sge(p.b, 0, 20000);
      EXPECT_TRUE(p.b.qp->post_recv(RecvWr{i, {&rs, 1}}).ok());
    }
    EXPECT_TRUE(p.a.qp->post_send(wr).ok());
    ++signaled;
  }
  Outcome out;
  out.a_wc = drain(p, p.a, signaled);
  p.run();
  out.b_wc = p.b.poll(p.b.rcq);
  out.log = p.log;
  out.a_mem = p.a.mem;
  out.b_mem = p.b.mem;
  out.b_stats = p.b.qp->stats();
  out.delivered = p.delivered;
  return out;
}

void expect_same(const Outcome& x, const Outcome& y) {
  ASSERT_EQ(x.log.size(), y.log.size());
  for (size_t i = 0; i < x.log.size(); ++i) {
    ASSERT_EQ(x.log[i].from, y.log[i].from) << i;
    ASSERT_EQ(x.log[i].opcode, y.log[i].opcode) << i;
    ASSERT_EQ(x.log[i].psn, y.log[i].psn) << i;
    ASSERT_EQ(x.log[i].retransmit, y.log[i].retransmit) << i;
  }
  ASSERT_EQ(x.a_wc.size(), y.a_wc.size());
  for (size_t i = 0; i < x.a_wc.size(); ++i) {
    EXPECT_EQ(x.a_wc[i].wr_id, y.a_wc[i].wr_id);
    EXPECT_EQ(x.a_wc[i].status, y.a_wc[i].status);
  }
  ASSERT_EQ(x.b_wc.size(), y.b_wc.size());
  for (size_t i = 0; i < x.b_wc.size(); ++i) {
    EXPECT_EQ(x.b_wc[i].wr_id, y.b_wc[i].wr_id);
    EXPECT_EQ(x.b_wc[i].opcode, y.b_wc[i].opcode);
    EXPECT_EQ(x.b_wc[i].byte_len, y.b_wc[i].byte_len);
    EXPECT_EQ(x.b_wc[i].imm, y.b_wc[i].imm);
  }
  EXPECT_TRUE(x.a_mem == y.a_mem);
  EXPECT_TRUE(x.b_mem == y.b_mem);
  EXPECT_EQ(x.b_stats.rx_packets, y.b_stats.rx_packets);
  EXPECT_EQ(x.b_stats.duplicates, y.b_stats.duplicates);
  EXPECT_EQ(x.b_stats.dropped, y.b_stats.dropped);
}

struct MixParam {
  Mtu mtu;
  EntropyPolicy::Kind entropy;
  LossRecovery recovery;
};

class CheckedDelivery : public ::testing::TestWithParam<MixParam> {};

TEST_P(CheckedDelivery, BehavesAsCheckingFirst) {
  ConnectOpts o;
  o.mtu = GetParam().mtu;
  o.timeout = 8;
  o.entropy.kind = GetParam().entropy;
  o.entropy.paths = GetParam().entropy == EntropyPolicy::Kind::fixed ? 1 : 4;
  o.loss_recovery = GetParam().recovery;
  for (uint32_t seed : {1u, 2u}) {
    const Outcome plain = run_mix(o, seed, nullptr);
    PassCheck check;
    const Outcome checked = run_mix(o, seed, &check);
    expect_same(plain, checked);
    // A sprayed WRITE goes as WRITE_ONLY packets, each naming its own target: none is copied before the
    // check. Otherwise multi-packet WRITEs continue with MIDDLE/LAST packets, which are.
    if (o.entropy.kind == EntropyPolicy::Kind::spray) EXPECT_EQ(check.copied, 0u);
    else EXPECT_GT(check.copied, 0u) << "no packet took the fused copy";
    EXPECT_EQ(check.copied + check.verified, checked.delivered) << "every packet checked exactly once";
    ASSERT_GT(plain.b_wc.size(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, CheckedDelivery,
    ::testing::Values(MixParam{Mtu::mtu1024, EntropyPolicy::Kind::fixed, LossRecovery::go_back_n},
                      MixParam{Mtu::mtu4096, EntropyPolicy::Kind::fixed, LossRecovery::go_back_n},
                      MixParam{Mtu::mtu256, EntropyPolicy::Kind::fixed, LossRecovery::selective},
                      MixParam{Mtu::mtu1024, EntropyPolicy::Kind::spray, LossRecovery::selective}));

// The packets A sends for what is posted (no ACKs from B in between).
std::vector<std::vector<uint8_t>> take_packets(Side& s) {
  std::vector<std::vector<uint8_t>> out;
  std::vector<uint8_t> buf(kMaxPacketBytes);
  TxPacket pkt;
  pkt.buf = buf;
  while (s.qp->poll_transmit(0, pkt)) out.emplace_back(buf.begin(), buf.begin() + static_cast<long>(pkt.len));
  return out;
}

TEST(CorruptDelivery, CorruptPacketsChangeNothingAndTheResendRepairs) {
  Pair p;  // MTU 1024
  const auto data = pattern(4096, 5);
  std::memcpy(p.a.buf(), data.data(), data.size());
  const Sge rs = sge(p.b, 0, 16);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{9, {&rs, 1}}).ok());
  const Sge s = sge(p.a, 0, 4096);
  SendWr wr = write_wr(p, s, 8192);
  wr.opcode = WrOpcode::rdma_write_with_imm;
  wr.imm = 0x1234;
  wr.send_flags = kSignaled;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  const auto pkts = take_packets(p.a);  // FIRST, MIDDLE, MIDDLE, LAST_IMM
  ASSERT_EQ(pkts.size(), 4u);
  ASSERT_EQ(pkts[3][0], op::RC_WRITE_LAST_IMM);
  const uint8_t* target = p.b.buf() + 8192;
  const std::vector<uint8_t> before(target, target + 4096);
  const uint32_t epsn = p.b.qp->query().rq_psn;
  Side& b = p.b;
  // What a dropped packet must leave as it was: the expected PSN, the counters, what B has to send (an
  // ACK or NAK), and B's completions.
  struct Snapshot {
    uint32_t rq_psn;
    uint64_t rx_packets;
    bool has_transmit;
    size_t completions;
  };
  auto snapshot = [&] {
    return Snapshot{b.qp->query().rq_psn, b.qp->stats().rx_packets, b.qp->has_transmit(), b.rcq.size()};
  };
  auto expect_unchanged = [&](const Snapshot& was) {
    const Snapshot now = snapshot();
    EXPECT_EQ(now.rq_psn, was.rq_psn);
    EXPECT_EQ(now.rx_packets, was.rx_packets);
    EXPECT_EQ(now.has_transmit, was.has_transmit) << "an ACK or NAK for a corrupt packet";
    EXPECT_EQ(now.completions, was.completions) << "a completion for a corrupt packet";
  };

  // A corrupt FIRST names its target in its own RETH: checked before anything is copied.
  FailCheck bad;
  Snapshot was = snapshot();
  EXPECT_EQ(b.qp->handle_packet(0, pkts[0], {}, bad), RxResult::corrupt);
  EXPECT_EQ(bad.copied, 0u);
  EXPECT_EQ(bad.verified, 1u);
  EXPECT_TRUE(std::equal(before.begin(), before.end(), target));
  expect_unchanged(was);
  EXPECT_EQ(was.rq_psn, epsn);

  PassCheck good;
  ASSERT_EQ(b.qp->handle_packet(0, pkts[0], {}, good), RxResult::accepted);
  EXPECT_EQ(good.verified, 1u);
  // A corrupt MIDDLE at the expected PSN is checked while copied: its bad bytes land in the part of the
  // target the WRITE has not written yet, and nothing advances.
  was = snapshot();
  EXPECT_EQ(b.qp->handle_packet(0, pkts[1], {}, bad), RxResult::corrupt);
  EXPECT_EQ(bad.copied, 1u);
  EXPECT_EQ(target[1024], 0xBD);
  expect_unchanged(was);
  // The resend overwrites them.
  ASSERT_EQ(b.qp->handle_packet(0, pkts[1], {}, good), RxResult::accepted);
  ASSERT_EQ(b.qp->handle_packet(0, pkts[2], {}, good), RxResult::accepted);
  EXPECT_EQ(good.copied, 2u);
  // A corrupt LAST with immediate: no receive completion, no ACK, the WRITE stays incomplete.
  was = snapshot();
  EXPECT_EQ(b.qp->handle_packet(0, pkts[3], {}, bad), RxResult::corrupt);
  EXPECT_EQ(bad.copied, 2u);
  expect_unchanged(was);
  EXPECT_EQ(was.rq_psn, ((epsn + 3) & 0xFFFFFFu));
  EXPECT_EQ(was.completions, 0u);
  ASSERT_EQ(b.qp->handle_packet(0, pkts[3], {}, good), RxResult::accepted);
  EXPECT_EQ(good.copied, 3u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), target));
  auto wc = b.poll(b.rcq);
  ASSERT_EQ(wc.size(), 1u);
  EXPECT_EQ(wc[0].byte_len, 4096u);
  EXPECT_EQ(wc[0].imm, 0x1234u);
  EXPECT_EQ(b.qp->query().rq_psn, ((epsn + 4) & 0xFFFFFFu));
  EXPECT_TRUE(b.guards_intact());
}

TEST(CorruptDelivery, RejectedRequestsAreNotCopied) {
  // A MIDDLE whose target MR went away since the FIRST: the ordinary path NAKs it without touching memory,
  // and so does the checked one (no fused copy).
  Pair p;
  std::memset(p.a.buf(), 0x5A, 3072);
  const Sge s = sge(p.a, 0, 3072);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  const auto pkts = take_packets(p.a);
  ASSERT_EQ(pkts.size(), 3u);
  PassCheck check;
  ASSERT_EQ(p.b.qp->handle_packet(0, pkts[0], {}, check), RxResult::accepted);
  const uint8_t* mem = p.b.buf();
  ASSERT_EQ(mem[0], 0x5A);
  ASSERT_TRUE(p.b.pd.dereg_mr(p.b.mr).ok());
  EXPECT_EQ(p.b.qp->handle_packet(0, pkts[1], {}, check), RxResult::nak_sent);
  EXPECT_EQ(check.copied, 0u);
  EXPECT_EQ(check.verified, 2u);
  for (size_t i = 1024; i < 3072; ++i) ASSERT_EQ(mem[i], 0xEE) << i;
}

TEST(CorruptDelivery, OutOfOrderAndDuplicatePacketsAreCheckedBeforeAnything) {
  Pair p;
  const Sge s = sge(p.a, 0, 4096);
  ASSERT_TRUE(p.a.qp->post_send(write_wr(p, s, 0)).ok());
  const auto pkts = take_packets(p.a);
  ASSERT_EQ(pkts.size(), 4u);
  FailCheck bad;
  PassCheck good;
  ASSERT_EQ(p.b.qp->handle_packet(0, pkts[0], {}, good), RxResult::accepted);
  // Ahead of the expected PSN (go-back-N: would be a sequence NAK) and a duplicate (would be re-ACKed).
  EXPECT_EQ(p.b.qp->handle_packet(0, pkts[2], {}, bad), RxResult::corrupt);
  EXPECT_EQ(p.b.qp->handle_packet(0, pkts[0], {}, bad), RxResult::corrupt);
  EXPECT_EQ(bad.copied, 0u);
  EXPECT_EQ(p.b.qp->stats().duplicates, 0u);
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 0u);
  EXPECT_EQ(p.b.qp->handle_packet(0, pkts[2], {}, good), RxResult::out_of_window);
  EXPECT_EQ(p.b.qp->stats().seq_naks_sent, 1u);
}

}  // namespace
}  // namespace rfab::rc::test
