// Two UdpDrivers on the loopback interface, each running one RC QP, driven from one thread: a WRITE, a
// sprayed SEND stream and a READ complete with the right bytes, also with seeded loss and corruption on
// the receive path; a QP whose peer never answers ends in retry_exc_err. (No root needed: loopback only.)
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/udp/driver.hpp"

namespace {
using namespace rfab;

struct Side {
  std::unique_ptr<udp::UdpDriver> driver;
  rc::ProtectionDomain pd;
  rc::CompletionQueue scq{1024}, rcq{1024};
  std::unique_ptr<rc::QueuePair> qp;
  std::vector<uint8_t> mem;
  rc::MemoryRegion* mr = nullptr;
};

std::unique_ptr<Side> make_side(uint32_t qpn, const std::string& faults = "") {
  auto s = std::make_unique<Side>();
  udp::DriverConfig dc;
  dc.local = *udp::Address::parse("127.0.0.1", 0);  // kernel-chosen RoCE port: tests run in parallel
  if (!faults.empty()) dc.rx_faults = fault::parse_fault(faults);
  s->driver = std::make_unique<udp::UdpDriver>(dc);
  s->mem.assign(1 << 20, 0);
  s->mr = s->pd.reg_mr(s->mem.data(), s->mem.size(), rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead);
  rc::QpInit init;
  init.pd = &s->pd;
  init.send_cq = &s->scq;
  init.recv_cq = &s->rcq;
  init.qp_num = qpn;
  s->qp = std::make_unique<rc::QueuePair>(init);
  return s;
}

void connect(Side& s, const Side& peer, uint16_t spray, uint8_t timeout = 10, uint8_t retry = 7) {
  endpoint::ConnectParams c;
  c.remote_qpn = peer.qp->qp_num();
  c.remote_psn = 100;
  c.local_psn = 100;
  c.mtu = 1024;
  c.access = rc::kRemoteWrite | rc::kRemoteRead;
  c.max_dest_rd_atomic = 16;
  c.max_rd_atomic = 16;
  c.min_rnr_timer = 1;
  c.ack_timeout = timeout;
  c.retry_cnt = retry;
  c.entropy.kind = spray > 1 ? rc::EntropyPolicy::Kind::spray : rc::EntropyPolicy::Kind::fixed;
  c.entropy.paths = spray;
  endpoint::connect(*s.qp, c);
  s.driver->attach(*s.qp, peer.driver->local());
}

// Drives both sides until `n` completions are on `cq` (or 10 s pass).
std::vector<rc::WorkCompletion> run_until(Side& a, Side& b, rc::CompletionQueue& cq, size_t n) {
  std::vector<rc::WorkCompletion> got;
  const Nanos deadline = a.driver->now() + 10'000'000'000ull;
  while (got.size() < n && a.driver->now() < deadline) {
    a.driver->progress(100'000);
    b.driver->progress(100'000);
    rc::WorkCompletion wc[16];
    const size_t k = cq.poll(wc);
    got.insert(got.end(), wc, wc + k);
  }
  return got;
}

void fill(std::vector<uint8_t>& v, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 13 + seed);
}

class DriverLoopback : public ::testing::TestWithParam<const char*> {};

TEST_P(DriverLoopback, WriteSendReadComplete) {
  auto a = make_side(0x11);
  auto b = make_side(0x22, GetParam());
  connect(*a, *b, 1);
  connect(*b, *a, 1);
  if (::testing::Test::HasFatalFailure()) return;

  // WRITE 300 KB A -> B.
  fill(a->mem, 300000, 1);
  rc::Sge sge{a->mr->iova(), 300000, a->mr->lkey()};
  rc::SendWr w;
  w.wr_id = 1;
  w.opcode = rc::WrOpcode::rdma_write;
  w.sg_list = {&sge, 1};
  w.rdma.remote_addr = b->mr->iova() + 4096;
  w.rdma.rkey = b->mr->rkey();
  ASSERT_TRUE(a->qp->post_send(w).ok());
  auto c = run_until(*a, *b, a->scq, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, rc::WcStatus::success) << rc::to_string(c[0].status);
  EXPECT_EQ(std::memcmp(a->mem.data(), b->mem.data() + 4096, 300000), 0);

  // READ it back into A at offset 512 KB.
  rc::Sge rs{a->mr->iova() + (512 << 10), 300000, a->mr->lkey()};
  rc::SendWr r;
  r.wr_id = 2;
  r.opcode = rc::WrOpcode::rdma_read;
  r.sg_list = {&rs, 1};
  r.rdma.remote_addr = b->mr->iova() + 4096;
  r.rdma.rkey = b->mr->rkey();
  ASSERT_TRUE(a->qp->post_send(r).ok());
  c = run_until(*a, *b, a->scq, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, rc::WcStatus::success);
  EXPECT_EQ(std::memcmp(a->mem.data(), a->mem.data() + (512 << 10), 300000), 0);

  // 20 SENDs B -> A.
  for (uint32_t i = 0; i < 20; ++i) {
    rc::Sge s{a->mr->iova() + i * 8192, 8192, a->mr->lkey()};
    rc::RecvWr rw;
    rw.wr_id = i;
    rw.sg_list = {&s, 1};
    ASSERT_TRUE(a->qp->post_recv(rw).ok());
  }
  fill(b->mem, 20 * 3000, 7);
  for (uint32_t i = 0; i < 20; ++i) {
    rc::Sge s{b->mr->iova() + i * 3000, 3000, b->mr->lkey()};
    rc::SendWr sw;
    sw.wr_id = 100 + i;
    sw.opcode = rc::WrOpcode::send;
    sw.sg_list = {&s, 1};
    ASSERT_TRUE(b->qp->post_send(sw).ok());
  }
  auto recvs = run_until(*a, *b, a->rcq, 20);
  ASSERT_EQ(recvs.size(), 20u);
  for (uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(recvs[i].wr_id, i);
    EXPECT_EQ(recvs[i].byte_len, 3000u);
    EXPECT_EQ(std::memcmp(a->mem.data() + i * 8192, b->mem.data() + i * 3000, 3000), 0) << i;
  }
  if (std::string(GetParam()).find("corrupt") != std::string::npos) {
    EXPECT_GT(b->driver->stats().rx_bad_icrc, 0u);  // corrupted copies were dropped on the ICRC
  }
}

INSTANTIATE_TEST_SUITE_P(Faults, DriverLoopback,
                         ::testing::Values("", "drop=3%,seed=1", "corrupt=3%,reorder=3%,dup=2%,seed=2"));

TEST(DriverLoopbackSpray, SprayedWriteUsesSeveralSourcePorts) {
  auto a = make_side(0x31);
  auto b = make_side(0x32, "reorder=10%,seed=3");
  connect(*a, *b, 8);
  connect(*b, *a, 1);
  if (::testing::Test::HasFatalFailure()) return;
  fill(a->mem, 200000, 3);
  rc::Sge sge{a->mr->iova(), 200000, a->mr->lkey()};
  rc::SendWr w;
  w.opcode = rc::WrOpcode::rdma_write;
  w.sg_list = {&sge, 1};
  w.rdma.remote_addr = b->mr->iova();
  w.rdma.rkey = b->mr->rkey();
  ASSERT_TRUE(a->qp->post_send(w).ok());
  auto c = run_until(*a, *b, a->scq, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, rc::WcStatus::success);
  EXPECT_EQ(std::memcmp(a->mem.data(), b->mem.data(), 200000), 0);
  EXPECT_EQ(b->driver->stats().rx_bad_icrc, 0u);
  EXPECT_EQ(a->driver->stats().entropy_sockets, 8u);  // one bound socket per sprayed source port
}

TEST(DriverLoopbackDeadPeer, RetryExhaustionCompletesWithError) {
  auto a = make_side(0x41);
  auto b = make_side(0x42);
  connect(*a, *b, 1, /*timeout=*/8, /*retry=*/2);
  connect(*b, *a, 1);
  if (::testing::Test::HasFatalFailure()) return;
  b->driver.reset();  // the peer's socket is gone: nothing answers
  // Re-point nothing: a keeps sending to the closed port. Drive only a.
  rc::Sge sge{a->mr->iova(), 1000, a->mr->lkey()};
  rc::SendWr w;
  w.opcode = rc::WrOpcode::rdma_write;
  w.sg_list = {&sge, 1};
  w.rdma.remote_addr = 0;
  w.rdma.rkey = 1;
  ASSERT_TRUE(a->qp->post_send(w).ok());
  std::vector<rc::WorkCompletion> got;
  const Nanos deadline = a->driver->now() + 10'000'000'000ull;
  while (got.empty() && a->driver->now() < deadline) {
    a->driver->progress(1'000'000);
    rc::WorkCompletion wc[4];
    const size_t k = a->scq.poll(wc);
    got.insert(got.end(), wc, wc + k);
  }
  ASSERT_EQ(got.size(), 1u) << "no completion: the QP hangs";
  EXPECT_EQ(got[0].status, rc::WcStatus::retry_exc_err) << rc::to_string(got[0].status);
}

// wake() from another thread ends a long progress() wait, a wake() before the wait makes it return at
// once, and neither shows up as received traffic (no packet, nothing malformed).
TEST(DriverWake, EndsAWaitFromAnotherThreadWithoutATrace) {
  auto a = make_side(0x51);
  using clock = std::chrono::steady_clock;
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    a->driver->wake();
  });
  auto t0 = clock::now();
  a->driver->progress(20'000'000'000ull);  // 20 s unless woken
  auto waited = clock::now() - t0;
  waker.join();
  EXPECT_LT(waited, std::chrono::seconds(10)) << "wake() did not end the wait";

  a->driver->wake();
  t0 = clock::now();
  a->driver->progress(20'000'000'000ull);
  EXPECT_LT(clock::now() - t0, std::chrono::seconds(10)) << "a wake() before the wait was lost";

  const auto& st = a->driver->stats();
  EXPECT_EQ(st.rx_packets, 0u);
  EXPECT_EQ(st.rx_malformed, 0u);
}

}  // namespace
