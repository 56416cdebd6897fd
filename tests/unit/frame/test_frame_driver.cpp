// Two FrameDrivers joined by an in-memory wire (a FramePort pair that hands frames across), each running one
// RC QP: a peer is found by ARP through the port (the DPDK way) or by a resolver (the AF_XDP way); a WRITE
// and a READ complete with the right bytes, also with corruption on the receive path (caught by the ICRC);
// a QP whose MTU the frames cannot carry is refused with the fix in the message.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rfab/endpoint/connect.hpp"
#include "rfab/fault/fault_config.hpp"
#include "rfab/frame/error.hpp"
#include "rfab/frame/frame_driver.hpp"
#include "rfab/rc/rc.hpp"

namespace {
using namespace rfab;

// One direction of the wire.
struct Lane {
  std::mutex mu;
  std::deque<std::vector<uint8_t>> frames;
};

class MemPort final : public frame::FramePort {
 public:
  MemPort(frame::Mac mac, Lane& in, Lane& out, size_t max_frame) : mac_(mac), in_(in), out_(out), max_(max_frame) {}
  std::string describe() const override { return "memory port"; }
  frame::Mac mac() const override { return mac_; }
  size_t max_frame() const override { return max_; }
  size_t rx_burst(std::span<std::span<const uint8_t>> out) override {
    std::lock_guard<std::mutex> l(in_.mu);
    held_.clear();
    while (held_.size() < out.size() && !in_.frames.empty()) {
      held_.push_back(std::move(in_.frames.front()));
      in_.frames.pop_front();
    }
    for (size_t i = 0; i < held_.size(); ++i) out[i] = held_[i];
    return held_.size();
  }
  void rx_release() override { held_.clear(); }
  std::span<uint8_t> tx_slot() override {
    slot_.resize(max_);
    return slot_;
  }
  void tx_commit(size_t len) override {
    std::lock_guard<std::mutex> l(out_.mu);
    out_.frames.emplace_back(slot_.begin(), slot_.begin() + static_cast<long>(len));
    ++sent_;
  }
  void tx_flush() override {}
  bool tx_pending() const override { return false; }
  int wait_fd() const override { return -1; }
  std::vector<std::pair<std::string, uint64_t>> counters() const override { return {{"sent", sent_}}; }
  uint64_t rx_syscalls() const override { return 0; }
  uint64_t tx_syscalls() const override { return 0; }

 private:
  frame::Mac mac_;
  Lane& in_;
  Lane& out_;
  size_t max_;
  std::vector<std::vector<uint8_t>> held_;
  std::vector<uint8_t> slot_;
  uint64_t sent_ = 0;
};

const frame::Mac kMacA{{2, 0, 0, 0, 0, 0xA}}, kMacB{{2, 0, 0, 0, 0, 0xB}};

struct Side {
  std::unique_ptr<frame::FrameDriver> driver;
  rc::ProtectionDomain pd;
  rc::CompletionQueue scq{1024}, rcq{1024};
  std::unique_ptr<rc::QueuePair> qp;
  std::vector<uint8_t> mem;
  rc::MemoryRegion* mr = nullptr;
};

std::unique_ptr<Side> make_side(const char* ip, frame::Mac mac, Lane& in, Lane& out, bool own_arp,
                                frame::Mac peer_mac, const std::string& faults = "", size_t max_frame = 4300) {
  auto s = std::make_unique<Side>();
  frame::FrameDriverConfig c;
  c.local = *udp::Address::parse(ip, 4791);
  c.own_arp = own_arp;
  c.arp_timeout = 2'000'000'000;
  if (!own_arp) c.resolve = [peer_mac](const udp::Address&) { return peer_mac; };
  if (!faults.empty()) c.rx_faults = fault::parse_fault(faults);
  s->driver = std::make_unique<frame::FrameDriver>(c, std::make_unique<MemPort>(mac, in, out, max_frame));
  s->mem.assign(1 << 20, 0);
  s->mr = s->pd.reg_mr(s->mem.data(), s->mem.size(), rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead);
  rc::QpInit init;
  init.pd = &s->pd;
  init.send_cq = &s->scq;
  init.recv_cq = &s->rcq;
  init.qp_num = ip[std::strlen(ip) - 1] == '1' ? 0x11 : 0x22;
  s->qp = std::make_unique<rc::QueuePair>(init);
  return s;
}

void bring_up(Side& s, const Side& peer, uint32_t mtu) {
  endpoint::ConnectParams c;
  c.remote_qpn = peer.qp->qp_num();
  c.remote_psn = 100;
  c.local_psn = 100;
  c.mtu = mtu;
  c.access = rc::kRemoteWrite | rc::kRemoteRead;
  c.max_dest_rd_atomic = 16;
  c.max_rd_atomic = 16;
  c.min_rnr_timer = 1;
  c.ack_timeout = 10;
  c.retry_cnt = 7;
  endpoint::connect(*s.qp, c);
}

std::vector<rc::WorkCompletion> run_until(Side& a, Side& b, rc::CompletionQueue& cq, size_t n) {
  std::vector<rc::WorkCompletion> got;
  const Nanos deadline = a.driver->now() + 10'000'000'000ull;
  while (got.size() < n && a.driver->now() < deadline) {
    a.driver->progress(0);
    b.driver->progress(0);
    rc::WorkCompletion wc[16];
    const size_t k = cq.poll(wc);
    got.insert(got.end(), wc, wc + k);
  }
  return got;
}

void write_then_read(Side& a, Side& b) {
  for (size_t i = 0; i < 300000; ++i) a.mem[i] = static_cast<uint8_t>(i * 13 + 1);
  rc::Sge sge{a.mr->iova(), 300000, a.mr->lkey()};
  rc::SendWr w;
  w.wr_id = 1;
  w.opcode = rc::WrOpcode::rdma_write;
  w.sg_list = {&sge, 1};
  w.rdma.remote_addr = b.mr->iova() + 4096;
  w.rdma.rkey = b.mr->rkey();
  ASSERT_TRUE(a.qp->post_send(w).ok());
  auto c = run_until(a, b, a.scq, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, rc::WcStatus::success) << rc::to_string(c[0].status);
  EXPECT_EQ(std::memcmp(a.mem.data(), b.mem.data() + 4096, 300000), 0);

  rc::Sge rs{a.mr->iova() + (512 << 10), 300000, a.mr->lkey()};
  rc::SendWr r;
  r.wr_id = 2;
  r.opcode = rc::WrOpcode::rdma_read;
  r.sg_list = {&rs, 1};
  r.rdma.remote_addr = b.mr->iova() + 4096;
  r.rdma.rkey = b.mr->rkey();
  ASSERT_TRUE(a.qp->post_send(r).ok());
  c = run_until(a, b, a.scq, 1);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].status, rc::WcStatus::success);
  EXPECT_EQ(std::memcmp(a.mem.data(), a.mem.data() + (512 << 10), 300000), 0);
}

TEST(FrameDriver, PeersFoundByArpThroughThePort) {
  Lane ab, ba;
  auto a = make_side("10.0.0.1", kMacA, ba, ab, true, {});
  auto b = make_side("10.0.0.2", kMacB, ab, ba, true, {});
  bring_up(*a, *b, 2048);
  bring_up(*b, *a, 2048);
  // A asks for B's MAC while B's driver runs (as the peer process would); B answers and learns A's.
  std::atomic<bool> stop{false};
  std::thread peer([&] {
    while (!stop) b->driver->progress(0);
  });
  EXPECT_NO_THROW(a->driver->attach(*a->qp, *udp::Address::parse("10.0.0.2", 4791)));
  stop = true;
  peer.join();
  EXPECT_GE(a->driver->stats().arp_requests, 1u);
  EXPECT_GE(b->driver->stats().arp_replies, 1u);
  b->driver->attach(*b->qp, *udp::Address::parse("10.0.0.1", 4791));
  EXPECT_EQ(b->driver->stats().arp_requests, 0u);  // learnt from A's request
  write_then_read(*a, *b);
  EXPECT_EQ(a->driver->stats().rx_bad_icrc + b->driver->stats().rx_bad_icrc, 0u);
}

TEST(FrameDriver, CorruptionOnTheWireIsCaughtByTheIcrc) {
  Lane ab, ba;
  auto a = make_side("fd00::1", kMacA, ba, ab, false, kMacB, "corrupt=2%,drop=1%,seed=9");
  auto b = make_side("fd00::2", kMacB, ab, ba, false, kMacA, "corrupt=2%,seed=10");
  bring_up(*a, *b, 1024);
  bring_up(*b, *a, 1024);
  a->driver->attach(*a->qp, *udp::Address::parse("fd00::2", 4791));
  b->driver->attach(*b->qp, *udp::Address::parse("fd00::1", 4791));
  write_then_read(*a, *b);
  EXPECT_GT(a->driver->stats().rx_bad_icrc + b->driver->stats().rx_bad_icrc, 0u);
}

TEST(FrameDriver, AnMtuTheFramesCannotCarryIsRefusedWithTheFix) {
  Lane ab, ba;
  auto a = make_side("10.0.0.1", kMacA, ba, ab, false, kMacB, "", 2200);
  auto b = make_side("10.0.0.2", kMacB, ab, ba, false, kMacA, "", 2200);
  EXPECT_EQ(a->driver->max_mtu(), 2048u);
  bring_up(*a, *b, 4096);
  try {
    a->driver->attach(*a->qp, *udp::Address::parse("10.0.0.2", 4791));
    FAIL() << "attached a 4096-byte MTU QP to 2200-byte frames";
  } catch (const frame::FrameError& e) {
    EXPECT_NE(std::string(e.what()).find("--mtu 2048"), std::string::npos) << e.what();
  }
}

TEST(FrameDriver, NoArpAnswerIsAClearError) {
  Lane ab, ba;
  auto a = make_side("10.0.0.1", kMacA, ba, ab, true, {});
  auto b = make_side("10.0.0.2", kMacB, ab, ba, true, {});
  bring_up(*a, *b, 1024);
  try {
    a->driver->attach(*a->qp, *udp::Address::parse("10.0.0.9", 4791));  // nobody has it
    FAIL();
  } catch (const frame::FrameError& e) {
    EXPECT_NE(std::string(e.what()).find("no ARP reply from 10.0.0.9"), std::string::npos) << e.what();
  }
}

}  // namespace
