// Every verb end to end through the back-to-back harness, data verified, over MTUs and message sizes.
#include <cstring>
#include <tuple>

#include "harness.hpp"

namespace rfab::rc::test {
namespace {


// Runs until side `s` has `n` send completions; returns them.
std::vector<WorkCompletion> wait_send(Pair& p, Side& s, size_t n) {
  std::vector<WorkCompletion> got;
  EXPECT_TRUE(p.run([&] {
    auto more = s.poll(s.scq);
    got.insert(got.end(), more.begin(), more.end());
    return got.size() >= n;
  }));
  return got;
}

class VerbsBySize : public ::testing::TestWithParam<std::tuple<Mtu, uint32_t>> {};

TEST_P(VerbsBySize, SendWriteReadDeliverExactBytes) {
  const auto [mtu, size] = GetParam();
  ConnectOpts o;
  o.mtu = mtu;
  const size_t mem = 2 * size_t{size} + 4096;
  Pair p(mem, o);
  const auto data = pattern(size, size ^ 0x5A);
  if (size > 0) std::memcpy(p.a.buf(), data.data(), size);

  // SEND into a posted receive.
  const Sge rs = sge(p.b, 0, size);
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{7, {&rs, 1}}).ok());
  const Sge ss = sge(p.a, 0, size);
  SendWr wr;
  wr.wr_id = 1;
  wr.opcode = WrOpcode::send;
  wr.sg_list = {&ss, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].status, WcStatus::success);
  EXPECT_EQ(wcs[0].opcode, WcOpcode::send);
  auto rwc = p.b.poll(p.b.rcq);
  ASSERT_EQ(rwc.size(), 1u);
  EXPECT_EQ(rwc[0].status, WcStatus::success);
  EXPECT_EQ(rwc[0].wr_id, 7u);
  EXPECT_EQ(rwc[0].byte_len, size);
  EXPECT_EQ(rwc[0].opcode, WcOpcode::recv);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), size));

  // RDMA WRITE to the second half of B's buffer.
  wr.wr_id = 2;
  wr.opcode = WrOpcode::rdma_write;
  wr.rdma.remote_addr = p.b.va(size + 1024);
  wr.rdma.rkey = p.b.mr->rkey();
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].status, WcStatus::success);
  EXPECT_EQ(wcs[0].opcode, WcOpcode::rdma_write);
  EXPECT_EQ(0, std::memcmp(p.b.buf() + size + 1024, data.data(), size));
  EXPECT_TRUE(p.b.poll(p.b.rcq).empty());  // a plain WRITE consumes no receive

  // RDMA READ it back into A's second half.
  const Sge rd = sge(p.a, size + 1024, size);
  wr.wr_id = 3;
  wr.opcode = WrOpcode::rdma_read;
  wr.sg_list = {&rd, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].status, WcStatus::success);
  EXPECT_EQ(wcs[0].opcode, WcOpcode::rdma_read);
  EXPECT_EQ(wcs[0].byte_len, size);
  EXPECT_EQ(0, std::memcmp(p.a.buf() + size + 1024, data.data(), size));
  EXPECT_TRUE(p.a.guards_intact());
  EXPECT_TRUE(p.b.guards_intact());
  EXPECT_EQ(p.a.qp->stats().retransmits, 0u);
}

INSTANTIATE_TEST_SUITE_P(MtuBySize, VerbsBySize,
                         ::testing::Combine(::testing::Values(Mtu::mtu256, Mtu::mtu512, Mtu::mtu1024, Mtu::mtu2048,
                                                              Mtu::mtu4096),
                                            ::testing::Values(0u, 1u, 255u, 256u, 257u, 4096u, 10000u, 65536u,
                                                              1u << 20)));

TEST(Verbs, FourMiBMessagesAtSmallestAndLargestMtu) {
  for (Mtu m : {Mtu::mtu256, Mtu::mtu4096}) {
    ConnectOpts o;
    o.mtu = m;
    const uint32_t size = 4u << 20;
    Pair p(2 * size_t{size}, o);
    const auto data = pattern(size, 4);
    std::memcpy(p.a.buf(), data.data(), size);
    const Sge rs = sge(p.b, size, size);
    ASSERT_TRUE(p.b.qp->post_recv(RecvWr{1, {&rs, 1}}).ok());
    const Sge ss = sge(p.a, 0, size);
    SendWr wr;
    wr.sg_list = {&ss, 1};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
    wr.opcode = WrOpcode::rdma_write;
    wr.rdma = {p.b.va(0), p.b.mr->rkey()};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
    auto wcs = wait_send(p, p.a, 2);
    ASSERT_EQ(wcs.size(), 2u);
    EXPECT_EQ(wcs[0].status, WcStatus::success);
    EXPECT_EQ(wcs[1].status, WcStatus::success);
    EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), size));
    EXPECT_EQ(0, std::memcmp(p.b.buf() + size, data.data(), size));
  }
}

TEST(Verbs, ImmediateDataOnSendAndWrite) {
  Pair p;
  const auto data = pattern(3000, 9);
  std::memcpy(p.a.buf(), data.data(), data.size());
  Sge rs[2] = {sge(p.b, 0, 100), sge(p.b, 200, 4000)};
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{11, {rs, 2}}).ok());
  ASSERT_TRUE(p.b.qp->post_recv(RecvWr{12, {}}).ok());  // WRITE_WITH_IMM needs a receive, not a buffer
  const Sge ss = sge(p.a, 0, 3000);
  SendWr wr;
  wr.opcode = WrOpcode::send_with_imm;
  wr.imm = 0xDEADBEEF;
  wr.sg_list = {&ss, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wr.opcode = WrOpcode::rdma_write_with_imm;
  wr.imm = 0x01020304;
  wr.rdma = {p.b.va(8192), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wcs = wait_send(p, p.a, 2);
  ASSERT_EQ(wcs.size(), 2u);
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].wr_id, 11u);
  EXPECT_EQ(r[0].opcode, WcOpcode::recv);
  EXPECT_TRUE(r[0].wc_flags & kWcWithImm);
  EXPECT_EQ(r[0].imm, 0xDEADBEEFu);
  EXPECT_EQ(r[0].byte_len, 3000u);
  // Scattered over two SGEs: 100 bytes, then the rest at offset 200.
  EXPECT_EQ(0, std::memcmp(p.b.buf(), data.data(), 100));
  EXPECT_EQ(0, std::memcmp(p.b.buf() + 200, data.data() + 100, 2900));
  EXPECT_EQ(r[1].wr_id, 12u);
  EXPECT_EQ(r[1].opcode, WcOpcode::recv_rdma_with_imm);
  EXPECT_EQ(r[1].imm, 0x01020304u);
  EXPECT_EQ(r[1].byte_len, 3000u);
  EXPECT_EQ(0, std::memcmp(p.b.buf() + 8192, data.data(), 3000));
}

TEST(Verbs, GatherFromSeveralSges) {
  Pair p;
  for (int i = 0; i < 4096; ++i) p.a.buf()[i] = static_cast<uint8_t>(i * 7);
  // Three pieces in a scrambled order: the message is their concatenation.
  Sge ss[3] = {sge(p.a, 3000, 1000), sge(p.a, 0, 1500), sge(p.a, 2000, 10)};
  SendWr wr;
  wr.opcode = WrOpcode::rdma_write;
  wr.sg_list = {ss, 3};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].byte_len, 2510u);
  EXPECT_EQ(0, std::memcmp(p.b.buf(), p.a.buf() + 3000, 1000));
  EXPECT_EQ(0, std::memcmp(p.b.buf() + 1000, p.a.buf(), 1500));
  EXPECT_EQ(0, std::memcmp(p.b.buf() + 2500, p.a.buf() + 2000, 10));
}

TEST(Verbs, AtomicsReturnOriginalAndUpdateRemote) {
  Pair p;
  uint64_t v = 40;
  std::memcpy(p.b.buf() + 64, &v, 8);
  const Sge res = sge(p.a, 0, 8);
  SendWr wr;
  wr.opcode = WrOpcode::atomic_fetch_and_add;
  wr.sg_list = {&res, 1};
  wr.atomic.remote_addr = p.b.va(64);
  wr.atomic.rkey = p.b.mr->rkey();
  wr.atomic.compare_add = 2;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].opcode, WcOpcode::fetch_add);
  EXPECT_EQ(wcs[0].status, WcStatus::success);
  uint64_t got;
  std::memcpy(&got, p.a.buf(), 8);
  EXPECT_EQ(got, 40u);
  std::memcpy(&v, p.b.buf() + 64, 8);
  EXPECT_EQ(v, 42u);

  // CAS that fails (compare 41 != 42) leaves memory, CAS that matches swaps.
  wr.opcode = WrOpcode::atomic_cmp_and_swp;
  wr.atomic.compare_add = 41;
  wr.atomic.swap = 1000;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wr.atomic.compare_add = 42;
  const Sge res2 = sge(p.a, 8, 8);
  wr.sg_list = {&res2, 1};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wcs = wait_send(p, p.a, 2);
  ASSERT_EQ(wcs.size(), 2u);
  EXPECT_EQ(wcs[0].opcode, WcOpcode::comp_swap);
  std::memcpy(&got, p.a.buf(), 8);
  EXPECT_EQ(got, 42u);
  std::memcpy(&got, p.a.buf() + 8, 8);
  EXPECT_EQ(got, 42u);
  std::memcpy(&v, p.b.buf() + 64, 8);
  EXPECT_EQ(v, 1000u);
}

TEST(Verbs, UnsignaledSuccessHasNoCompletionButErrorsDo) {
  Pair p;
  const Sge ss = sge(p.a, 0, 16);
  SendWr wr;
  wr.opcode = WrOpcode::rdma_write;
  wr.send_flags = 0;
  wr.sg_list = {&ss, 1};
  wr.rdma = {p.b.va(0), p.b.mr->rkey()};
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  wr.send_flags = kSignaled;
  wr.wr_id = 99;
  ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  auto wcs = wait_send(p, p.a, 1);
  ASSERT_EQ(wcs.size(), 1u);
  EXPECT_EQ(wcs[0].wr_id, 99u);
}

TEST(Verbs, ManyMessagesPipelineInOrder) {
  Pair p(1 << 20);
  constexpr int kN = 200;
  std::vector<Sge> rs(kN);
  for (int i = 0; i < kN; ++i) {
    rs[i] = sge(p.b, size_t(i) * 4096, 4096);
    ASSERT_TRUE(p.b.qp->post_recv(RecvWr{uint64_t(i), {&rs[i], 1}}).ok());
  }
  for (int i = 0; i < kN; ++i) {
    std::memset(p.a.buf() + size_t(i) * 64, i, 64);
    const Sge ss = sge(p.a, size_t(i) * 64, uint32_t(1 + i * 17));
    SendWr wr;
    wr.wr_id = uint64_t(i);
    wr.sg_list = {&ss, 1};
    ASSERT_TRUE(p.a.qp->post_send(wr).ok());
  }
  auto wcs = wait_send(p, p.a, kN);
  ASSERT_EQ(wcs.size(), size_t(kN));
  auto r = p.b.poll(p.b.rcq);
  ASSERT_EQ(r.size(), size_t(kN));
  for (int i = 0; i < kN; ++i) {
    EXPECT_EQ(wcs[i].wr_id, uint64_t(i));
    EXPECT_EQ(r[i].wr_id, uint64_t(i));
    EXPECT_EQ(r[i].byte_len, uint32_t(1 + i * 17));
  }
}

}  // namespace
}  // namespace rfab::rc::test
