// PerfBackend over an RDMA device through libibverbs (rfab::verbs): an RNIC or Linux rxe runs the RC
// protocol, this side only posts work requests and polls completions.
#include <thread>
#include <chrono>
#include <deque>
#include <vector>

#include "commands.hpp"
#include "perf_backend.hpp"

#ifdef RFAB_HAVE_VERBS
#include "rfab/verbs/device.hpp"
#include "rfab/verbs/rc_qp.hpp"
#endif

namespace rfab::cli::perf {

#ifdef RFAB_HAVE_VERBS
namespace {

class VerbsBackend final : public PerfBackend {
 public:
  explicit VerbsBackend(const Options& o) : o_(o) {
    verbs::Selection sel;
    sel.device = o.device;
    sel.gid_index = o.gid_index;
    try {
      ep_ = verbs::choose_endpoint(verbs::selection_from_env(sel));
      dev_ = std::make_unique<verbs::Device>(ep_);
    } catch (const verbs::VerbsError& e) {
      throw ExitError{2, std::string("--verbs: ") + e.what()};
    }
  }

  void create(uint8_t* buf, size_t len, const BackendQpSizes& sz) override {
    try {
      mr_ = std::make_unique<verbs::MemoryRegion>(*dev_, buf, len, rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead);
      verbs::QpOptions opt;
      opt.cap.max_send_wr = sz.send_depth;
      opt.cap.max_recv_wr = std::max<uint32_t>(sz.recv_depth, 1);
      opt.cap.max_send_sge = 1;
      opt.cap.max_recv_sge = 1;
      opt.cq_depth = static_cast<int>(sz.send_depth + sz.recv_depth + 16);
      opt.attr.qp_access_flags = rc::kLocalWrite | rc::kRemoteWrite | rc::kRemoteRead;
      opt.attr.max_dest_rd_atomic = static_cast<uint8_t>(sz.out_reads);
      opt.attr.max_rd_atomic = static_cast<uint8_t>(sz.out_reads);
      opt.attr.min_rnr_timer = 12;
      opt.attr.timeout = o_.ack_timeout;
      opt.attr.retry_cnt = o_.retry_cnt;
      opt.attr.rnr_retry = 7;
      for (uint32_t i = 0; i < sz.qps; ++i) qps_.push_back(std::make_unique<verbs::RcQueuePair>(*dev_, opt));
    } catch (const verbs::VerbsError& e) {
      throw ExitError{2, std::string("--verbs: ") + e.what()};
    }
  }

  std::array<uint8_t, 16> gid() const override { return ep_.gid; }
  // The verbs QP runs at the port's active MTU: offer exactly that.
  uint32_t max_mtu(uint32_t) const override { return static_cast<uint32_t>(ep_.active_mtu); }
  uint32_t lkey() const override { return mr_->lkey(); }
  uint32_t rkey() const override { return mr_->rkey(); }
  uint32_t qp_num(uint32_t q) const override { return qps_[q]->qp_num(); }
  uint32_t first_psn(uint32_t q) const override { return qps_[q]->local_address().psn; }

  void connect(uint32_t q, const PeerQp& peer, uint32_t mtu) override {
    if (mtu != static_cast<uint32_t>(ep_.active_mtu))
      throw ExitError{2, "--verbs: the peer agreed on path MTU " + std::to_string(mtu) + ", but " + ep_.device +
                             " port " + std::to_string(ep_.port) + " runs at its active MTU " +
                             std::to_string(ep_.active_mtu)};
    if (peer.out_reads < 1) throw ExitError{2, "--verbs: the peer announced no READ resources"};
    try {
      qps_[q]->connect({peer.qpn, peer.psn, peer.gid});
    } catch (const verbs::VerbsError& e) {
      throw ExitError{2, std::string("--verbs: ") + e.what()};
    }
  }

  rc::Status post_send(uint32_t q, const rc::SendWr& wr) override { return qps_[q]->post_send(wr); }
  rc::Status post_recv(uint32_t q, const rc::RecvWr& wr) override { return qps_[q]->post_recv(wr); }

  // One CQ per QP carries both directions: sort receive completions out for poll_recv.
  size_t poll_send(std::span<rc::WorkCompletion> out) override {
    drain();
    return take(sends_, out);
  }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override {
    drain();
    return take(recvs_, out);
  }
  bool progress(Nanos) override {
    // The device moves the packets; yield so rxe's kernel work (same CPU in a small guest) runs.
    std::this_thread::yield();
    return false;
  }
  Nanos now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  }
  uint64_t rx_packets() const override { return 0; }
  bool sees_packets() const override { return false; }
  std::string name() const override { return "verbs " + ep_.device + " GID " + std::to_string(ep_.gid_index); }
  void fill_counters(Result&) const override {}  // the device keeps them (rdma statistic, sysfs counters)

 private:
  void drain() {
    rc::WorkCompletion wc[32];
    for (auto& qp : qps_)
      for (size_t n; (n = qp->poll_cq(wc)) > 0;)
        for (size_t i = 0; i < n; ++i)
          (static_cast<uint8_t>(wc[i].opcode) & 0x80 ? recvs_ : sends_).push_back(wc[i]);  // IBV_WC_RECV bit
  }
  static size_t take(std::deque<rc::WorkCompletion>& q, std::span<rc::WorkCompletion> out) {
    size_t n = 0;
    while (n < out.size() && !q.empty()) {
      out[n++] = q.front();
      q.pop_front();
    }
    return n;
  }

  const Options& o_;
  verbs::Endpoint ep_;
  std::unique_ptr<verbs::Device> dev_;
  std::unique_ptr<verbs::MemoryRegion> mr_;
  std::vector<std::unique_ptr<verbs::RcQueuePair>> qps_;
  std::deque<rc::WorkCompletion> sends_, recvs_;
};

}  // namespace

std::unique_ptr<PerfBackend> make_verbs_backend(const Options& o) { return std::make_unique<VerbsBackend>(o); }

#else

std::unique_ptr<PerfBackend> make_verbs_backend(const Options&) {
  throw ExitError{2, "--verbs: this rfab was built without libibverbs (install libibverbs-dev and rebuild)"};
}

#endif

}  // namespace rfab::cli::perf
