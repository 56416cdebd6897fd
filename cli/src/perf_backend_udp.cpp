// PerfBackend over rfab's RC engine (rfab::rc) and the kernel-UDP datapath (rfab::udp).
#include <algorithm>
#include <random>
#include <vector>

#include "commands.hpp"
#include "perf_backend.hpp"
#include "rfab/rc/rc.hpp"
#include "rfab/udp/driver.hpp"

namespace rfab::cli::perf {
namespace {

// Unacknowledged packets over all QPs: rxe in a TCG guest drains its socket slowly, and more in flight only
// overflows it into go-back-N retransmissions.
constexpr uint32_t kInflightPackets = 128;

class UdpBackend final : public PerfBackend {
 public:
  UdpBackend(const Options& o, const std::string& local_ip) : o_(o) {
    udp::DriverConfig dc;
    dc.local = udp::Address::parse_or_throw(local_ip, o.udp_port, "--local");
    dc.gso = o.gso;
    dc.gather = o.gather;
    dc.ipv4_id_window = udp::kAnyIpv4Id;  // rxe and RNICs write arbitrary IPv4 IDs
    driver_ = std::make_unique<udp::UdpDriver>(dc);
    local_ = dc.local;
  }

  void create(uint8_t* buf, size_t len, const BackendQpSizes& sz) override {
    try {
      mr_ = pd_.reg_mr(buf, len, rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead);
    } catch (const std::exception& e) {
      throw ExitError{2, std::string("memory registration: ") + e.what()};
    }
    out_reads_ = sz.out_reads;
    const size_t cq = size_t{sz.qps} * (sz.send_depth + sz.recv_depth) + 16;
    scq_ = std::make_unique<rc::CompletionQueue>(cq);
    rcq_ = std::make_unique<rc::CompletionQueue>(cq);
    std::random_device rd;
    const uint32_t qpn_base = (rd() & 0xFFF) << 12;
    for (uint32_t i = 0; i < sz.qps; ++i) {
      rc::QpInit init;
      init.pd = &pd_;
      init.send_cq = scq_.get();
      init.recv_cq = rcq_.get();
      init.cap.max_send_wr = sz.send_depth;
      init.cap.max_recv_wr = std::max<uint32_t>(sz.recv_depth, 1);
      init.cap.max_send_sge = 1;
      init.cap.max_recv_sge = 1;
      init.qp_num = (qpn_base | (i + 1)) & 0xFFFFFF;
      init.tuning.max_outstanding = std::max<uint32_t>(kInflightPackets / sz.qps, 16);
      qps_.push_back(std::make_unique<rc::QueuePair>(init));
      psns_.push_back(rd() & 0xFFFFFF);
    }
  }

  std::array<uint8_t, 16> gid() const override { return local_.gid(); }
  uint32_t max_mtu(uint32_t wanted) const override { return wanted; }
  uint32_t lkey() const override { return mr_->lkey(); }
  uint32_t rkey() const override { return mr_->rkey(); }
  uint32_t qp_num(uint32_t q) const override { return qps_[q]->qp_num(); }
  uint32_t first_psn(uint32_t q) const override { return psns_[q]; }

  void connect(uint32_t q, const PeerQp& peer, uint32_t mtu) override {
    rc::QueuePair& qp = *qps_[q];
    rc::QpAttr a;
    a.qp_state = rc::QpState::init;
    a.qp_access_flags = rc::kRemoteWrite | rc::kRemoteRead;
    check(qp.modify(a, rc::kQpState | rc::kQpAccessFlags | rc::kQpPkeyIndex | rc::kQpPort));
    a.qp_state = rc::QpState::rtr;
    if (!rc::mtu_from_bytes(mtu, a.path_mtu)) throw ExitError{2, "path MTU " + std::to_string(mtu) + " is not a RoCE MTU"};
    a.dest_qp_num = peer.qpn;
    a.rq_psn = peer.psn;
    a.max_dest_rd_atomic = static_cast<uint8_t>(out_reads_);
    a.min_rnr_timer = 12;  // 0.64 ms: perftest's clients retry RNR forever (rnr_retry 7)
    check(qp.modify(a, rc::kQpState | rc::kQpPathMtu | rc::kQpDestQpn | rc::kQpRqPsn | rc::kQpMaxDestRdAtomic |
                           rc::kQpMinRnrTimer));
    a.qp_state = rc::QpState::rts;
    a.sq_psn = psns_[q];
    a.timeout = o_.ack_timeout;
    a.retry_cnt = o_.retry_cnt;
    a.rnr_retry = 7;
    // Never more READs in flight than the peer's responder takes (its out_reads).
    a.max_rd_atomic = static_cast<uint8_t>(std::clamp<uint32_t>(peer.out_reads, 1, out_reads_));
    check(qp.modify(a, rc::kQpState | rc::kQpTimeout | rc::kQpRetryCnt | rc::kQpRnrRetry | rc::kQpSqPsn |
                           rc::kQpMaxQpRdAtomic));
    const auto to = udp::Address::from_gid(peer.gid, o_.udp_port);
    if (to.v6 != local_.v6) throw ExitError{2, "the peer's GID type differs from ours (IPv4 vs IPv6)"};
    driver_->attach(qp, to);
  }

  rc::Status post_send(uint32_t q, const rc::SendWr& wr) override { return qps_[q]->post_send(wr); }
  rc::Status post_recv(uint32_t q, const rc::RecvWr& wr) override { return qps_[q]->post_recv(wr); }
  size_t poll_send(std::span<rc::WorkCompletion> out) override { return scq_->poll(out); }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override { return rcq_->poll(out); }
  bool progress(Nanos max_wait) override { return driver_->progress(max_wait); }
  Nanos now() const override { return driver_->now(); }
  uint64_t rx_packets() const override { return driver_->stats().rx_packets; }
  bool sees_packets() const override { return true; }
  std::string name() const override { return "kernel UDP datapath"; }

  void fill_counters(Result& r) const override {
    fill_udp_counters(driver_->stats(), qps_, r);
  }

 private:
  static void check(const rc::Status& s) {
    if (!s.ok()) throw ExitError{2, std::string("QP setup: ") + s.what};
  }

  const Options& o_;
  rc::ProtectionDomain pd_;
  rc::MemoryRegion* mr_ = nullptr;
  std::unique_ptr<rc::CompletionQueue> scq_, rcq_;
  std::unique_ptr<udp::UdpDriver> driver_;
  udp::Address local_;
  std::vector<std::unique_ptr<rc::QueuePair>> qps_;
  std::vector<uint32_t> psns_;
  uint32_t out_reads_ = 16;
};

}  // namespace

std::unique_ptr<PerfBackend> make_udp_backend(const Options& o, const std::string& local_ip) {
  return std::make_unique<UdpBackend>(o, local_ip);
}

void fill_udp_counters(const udp::DriverStats& s, const std::vector<std::unique_ptr<rc::QueuePair>>& qps, Result& r) {
  r.tx_packets = s.tx_packets;
  r.rx_packets = s.rx_packets;
  r.tx_syscalls = s.tx_syscalls;
  r.rx_syscalls = s.rx_syscalls;
  r.rx_bad_icrc = s.rx_bad_icrc;
  for (const auto& qp : qps) {
    r.retransmits += qp->stats().retransmits;
    r.timeouts += qp->stats().timeouts;
    r.duplicates += qp->stats().duplicates;
    r.out_of_order += qp->stats().out_of_order;
  }
}

}  // namespace rfab::cli::perf
