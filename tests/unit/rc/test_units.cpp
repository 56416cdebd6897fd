// Small pure pieces: timers, MTU codes, the rxe source-port function, PD/MR/CQ behaviour.
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

#include "rfab/rc/rc.hpp"

namespace rfab::rc {
namespace {

TEST(Units, AckTimeoutIs4096nsTimesPowerOfTwo) {
  EXPECT_EQ(ack_timeout_ns(0), kNever);
  EXPECT_EQ(ack_timeout_ns(1), 8192u);
  EXPECT_EQ(ack_timeout_ns(14), 4096u * 16384u);  // 67.1 ms
  EXPECT_EQ(ack_timeout_ns(31), 4096ull << 31);
}

TEST(Units, RnrTimerTable) {
  EXPECT_EQ(rnr_timer_ns(0), 655'360'000u);
  EXPECT_EQ(rnr_timer_ns(1), 10'000u);
  EXPECT_EQ(rnr_timer_ns(12), 640'000u);
  EXPECT_EQ(rnr_timer_ns(31), 491'520'000u);
}

TEST(Units, MtuCodes) {
  Mtu m{};
  EXPECT_TRUE(mtu_from_bytes(4096, m));
  EXPECT_EQ(m, Mtu::mtu4096);
  EXPECT_EQ(mtu_bytes(Mtu::mtu256), 256u);
  EXPECT_FALSE(mtu_from_bytes(1500, m));
  EXPECT_FALSE(mtu_from_bytes(8192, m));
}

TEST(Units, RxeSourcePortMatchesKernelCapture) {
  // tests/data/rxe/mtu1024_send_64.pcap: rdma_rxe QPs 0x14 <-> 0x14 send from UDP port 49552.
  EXPECT_EQ(rxe_src_port(0x14, 0x14), 49552);
  for (uint32_t q = 1; q < 5000; q += 37) {
    const uint16_t p = rxe_src_port(q, 0x123);
    EXPECT_GE(p, 0xC000);
  }
  EXPECT_EQ(entropy_port(0x11, 0x22, 0), rxe_src_port(0x11, 0x22));
  std::set<uint16_t> ports;
  for (uint32_t i = 0; i < 256; ++i) ports.insert(entropy_port(0x11, 0x22, i));
  EXPECT_EQ(ports.size(), 256u);  // distinct entropies
}

TEST(Units, MemoryRegionKeysBoundsAndDereg) {
  ProtectionDomain pd;
  std::vector<uint8_t> buf(100);
  MemoryRegion* mr = pd.reg_mr(buf.data(), buf.size(), kLocalWrite | kRemoteRead);
  ASSERT_NE(mr, nullptr);
  EXPECT_EQ(pd.find(mr->rkey()), mr);
  EXPECT_TRUE(mr->contains(mr->iova(), 100));
  EXPECT_TRUE(mr->contains(mr->iova() + 100, 0));
  EXPECT_FALSE(mr->contains(mr->iova() + 1, 100));
  EXPECT_FALSE(mr->contains(mr->iova() - 1, 1));
  EXPECT_FALSE(mr->contains(~uint64_t{0}, 2));  // no wrap-around
  const uint32_t key = mr->rkey();
  EXPECT_TRUE(pd.dereg_mr(mr).ok());
  EXPECT_EQ(pd.find(key), nullptr);
  MemoryRegion* again = pd.reg_mr(buf.data(), 10, kLocalWrite);
  EXPECT_NE(again->rkey(), key);  // the re-used slot has a new generation
  EXPECT_EQ(pd.find(key), nullptr);
  EXPECT_THROW(pd.reg_mr(buf.data(), 10, kRemoteWrite), std::invalid_argument);
  EXPECT_THROW(pd.reg_mr(nullptr, 10, kLocalWrite), std::invalid_argument);
  EXPECT_THROW(pd.reg_mr(buf.data(), 10, 1u << 9), std::invalid_argument);
  EXPECT_FALSE(pd.dereg_mr(nullptr).ok());
}

TEST(Units, CompletionQueueRingAndOverrun) {
  CompletionQueue cq(3);
  for (uint64_t i = 0; i < 3; ++i) {
    WorkCompletion wc;
    wc.wr_id = i;
    EXPECT_TRUE(cq.push(wc));
  }
  EXPECT_FALSE(cq.push(WorkCompletion{}));
  EXPECT_TRUE(cq.overrun());
  WorkCompletion out[2];
  EXPECT_EQ(poll_cq(cq, 2, out), 2);
  EXPECT_EQ(out[0].wr_id, 0u);
  EXPECT_EQ(out[1].wr_id, 1u);
  EXPECT_EQ(poll_cq(cq, 2, out), 1);
  EXPECT_EQ(out[0].wr_id, 2u);
  EXPECT_EQ(poll_cq(cq, 2, out), 0);
  EXPECT_THROW(CompletionQueue(0), std::invalid_argument);
}

}  // namespace
}  // namespace rfab::rc
