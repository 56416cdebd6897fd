// The RoCE transport's default provider: rfab's sans-IO RC engine (fabric/rc) driven by the kernel-UDP
// datapath (fabric/datapath/udp). QPN = peer rank + 1: one driver per rank, so the peer's rank names the QP.

#include <algorithm>
#include <vector>

#include "rfab/collectives/types.hpp"
#include "rfab/rc/cq.hpp"
#include "rfab/rc/memory.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/udp/driver.hpp"
#include "rfab/udp/error.hpp"
#include "roce_provider.hpp"

namespace rfab::coll {

namespace {

void check(const rc::Status& s, const std::string& what) {
  if (!s.ok()) throw Error(Status::Internal, "RoCE " + what + ": " + s.what);
}

class UdpProvider final : public RoceProvider {
 public:
  UdpProvider(const RoceOptions& opt, int rank) {
    udp::DriverConfig dc;
    dc.verify_icrc = opt.verify_icrc;
    if (!opt.rx_faults.empty()) dc.rx_faults = fault::parse_fault(opt.rx_faults);  // checked by from_env
    try {
      dc.local = udp::Address::parse_or_throw(opt.local_ip, opt.port, "RoCE local address");
      driver_ = std::make_unique<udp::UdpDriver>(dc);
    } catch (const udp::UdpError& e) {
      throw Error(Status::System, std::string("RoCE transport of rank ") + std::to_string(rank) + ": " + e.what());
    }
  }

  ~UdpProvider() override {
    for (auto& q : qps_)
      if (q) driver_->detach(q->qp_num());
  }

  std::string name() const override { return "udp"; }
  udp::Address local() const override { return driver_->local(); }
  uint32_t max_mtu(uint32_t wanted) const override { return wanted; }

  RoceMr reg_mr(void* addr, size_t len, uint32_t access) override {
    rc::MemoryRegion* mr = pd_.reg_mr(addr, len, access);
    return {mr->lkey(), mr->rkey(), mr->iova()};
  }

  uint32_t create_qp(const RoceQpSetup& s, size_t npeers) override {
    if (!send_cq_) {
      send_cq_ = std::make_unique<rc::CompletionQueue>(npeers * s.max_send_wr + 16);
      recv_cq_ = std::make_unique<rc::CompletionQueue>(npeers * s.max_recv_wr + 16);
    }
    rc::QpInit init;
    init.pd = &pd_;
    init.send_cq = send_cq_.get();
    init.recv_cq = recv_cq_.get();
    init.cap.max_send_wr = s.max_send_wr;
    init.cap.max_recv_wr = s.max_recv_wr;
    init.cap.max_send_sge = 1;
    init.cap.max_recv_sge = 1;
    init.qp_num = static_cast<uint32_t>(s.peer) + 1;
    init.tuning.max_outstanding = s.max_outstanding;
    auto qp = std::make_unique<rc::QueuePair>(init);
    rc::QpAttr a;
    a.qp_state = rc::QpState::init;
    a.qp_access_flags = rc::kRemoteWrite;
    check(qp->modify(a, rc::kQpState | rc::kQpAccessFlags | rc::kQpPkeyIndex | rc::kQpPort), "QP to INIT");
    if (qps_.size() <= static_cast<size_t>(s.peer)) qps_.resize(static_cast<size_t>(s.peer) + 1);
    qps_[static_cast<size_t>(s.peer)] = std::move(qp);
    return init.qp_num;
  }

  void connect_qp(int peer, const RoceQpConnect& c) override {
    rc::QueuePair& qp = *qps_.at(static_cast<size_t>(peer));
    rc::Mtu mtu;
    rc::mtu_from_bytes(c.mtu, mtu);
    rc::QpAttr a;
    a.qp_state = rc::QpState::rtr;
    a.path_mtu = mtu;
    a.dest_qp_num = c.qpn;
    a.rq_psn = c.psn;
    a.max_dest_rd_atomic = 1;
    a.min_rnr_timer = 1;  // 0.01 ms: the datapath reposts receives at once
    check(qp.modify(a, rc::kQpState | rc::kQpPathMtu | rc::kQpDestQpn | rc::kQpRqPsn | rc::kQpMaxDestRdAtomic |
                           rc::kQpMinRnrTimer),
          "QP to RTR");
    a.qp_state = rc::QpState::rts;
    a.sq_psn = c.sq_psn;
    a.timeout = c.ack_timeout;
    a.retry_cnt = 7;
    a.rnr_retry = 7;
    a.max_rd_atomic = 1;
    check(qp.modify(a, rc::kQpState | rc::kQpTimeout | rc::kQpRetryCnt | rc::kQpRnrRetry | rc::kQpSqPsn |
                           rc::kQpMaxQpRdAtomic),
          "QP to RTS");
    driver_->attach(qp, c.peer);
  }

  rc::Status post_send(int peer, const rc::SendWr& wr) override { return qps_[static_cast<size_t>(peer)]->post_send(wr); }
  rc::Status post_recv(int peer, const rc::RecvWr& wr) override { return qps_[static_cast<size_t>(peer)]->post_recv(wr); }
  bool qp_in_error(int peer) const override { return qps_[static_cast<size_t>(peer)]->state() == rc::QpState::err; }
  void fail_qp(int peer) override {
    rc::QpAttr a;
    a.qp_state = rc::QpState::err;
    (void)qps_[static_cast<size_t>(peer)]->modify(a, rc::kQpState);  // any state may move to ERR
  }
  uint32_t any_memory_lkey() override {
    // Local read only (no remote access): the engine gathers payloads from it, peers can name nothing.
    // Page 0 is never mapped; 2^57 covers x86-64 user space even with 5-level paging.
    if (any_mr_ == nullptr) any_mr_ = pd_.reg_mr(reinterpret_cast<void*>(uintptr_t{4096}), (uint64_t{1} << 57) - 4096, 0);
    return any_mr_->lkey();
  }
  size_t poll_send(std::span<rc::WorkCompletion> out) override { return send_cq_->poll(out); }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override { return recv_cq_->poll(out); }
  int peer_of(uint32_t qpn) const override {
    const size_t r = qpn - 1;
    return r < qps_.size() && qps_[r] ? static_cast<int>(r) : -1;
  }
  bool progress(uint64_t max_wait_ns) override { return driver_->progress(max_wait_ns); }
  uint64_t now() const override { return driver_->now(); }

  // The driver sleeps in epoll on its receive socket and an eventfd that wake() signals.
  void wake() override { driver_->wake(); }

  void print_debug(std::FILE* f, int rank) const override {
    const auto& ds = driver_->stats();
    std::fprintf(f, "rfab roce rank %d: udp tx %llu pkts %llu syscalls %llu dropped, rx %llu pkts %llu syscalls "
                 "%llu bad-icrc %llu unknown-qp\n",
                 rank, (unsigned long long)ds.tx_packets, (unsigned long long)ds.tx_syscalls,
                 (unsigned long long)ds.tx_dropped, (unsigned long long)ds.rx_packets,
                 (unsigned long long)ds.rx_syscalls, (unsigned long long)ds.rx_bad_icrc,
                 (unsigned long long)ds.rx_unknown_qp);
    for (size_t r = 0; r < qps_.size(); ++r) {
      if (!qps_[r]) continue;
      const auto& q = qps_[r]->stats();
      std::fprintf(f, "rfab roce rank %d -> rank %zu: retransmits %llu timeouts %llu seq-naks %llu/%llu "
                   "rnr-naks %llu/%llu acks %llu\n",
                   rank, r, (unsigned long long)q.retransmits, (unsigned long long)q.timeouts,
                   (unsigned long long)q.seq_naks_sent, (unsigned long long)q.seq_naks_received,
                   (unsigned long long)q.rnr_naks_sent, (unsigned long long)q.rnr_naks_received,
                   (unsigned long long)q.acks_sent);
    }
  }

 private:
  // Declaration order is destruction order reversed: QPs go before the CQs and PD they use, the driver
  // (which the destructor detaches them from) last.
  std::unique_ptr<udp::UdpDriver> driver_;
  rc::ProtectionDomain pd_;
  std::unique_ptr<rc::CompletionQueue> send_cq_, recv_cq_;
  std::vector<std::unique_ptr<rc::QueuePair>> qps_;  // indexed by peer rank
  rc::MemoryRegion* any_mr_ = nullptr;               // see any_memory_lkey()
};

}  // namespace

std::unique_ptr<RoceProvider> make_udp_provider(const RoceOptions& opt, int rank) {
  return std::make_unique<UdpProvider>(opt, rank);
}

}  // namespace rfab::coll
