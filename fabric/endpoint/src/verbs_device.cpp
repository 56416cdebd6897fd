// Device over libibverbs. The device is the RC engine, so each call maps onto ibv_* calls; rfab's RC types
// carry libibverbs' numeric values (static_asserts below), so work requests and completions convert
// field by field.
//
// Waiting: in sleeping mode both CQs share a completion channel, and progress() sleeps in epoll on the
// channel's fd plus an eventfd that wake() writes (a rank's datapath thread must not busy-poll a core its
// application may need). In polling mode progress() only yields, for the lowest latency.
#include "rfab/endpoint/verbs_device.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "rfab/verbs/context.hpp"
#include "rfab/verbs/device.hpp"
#include "rfab/verbs/ibv_convert.hpp"

namespace rfab::endpoint {
namespace {

constexpr uint16_t kRoceV2Port = 4791;
constexpr size_t kMaxSge = 16;

// rfab's attribute mask bits are libibverbs' (kQpEntropy, rfab's own, is handled before the call).
constexpr uint32_t u(uint32_t v) { return v; }
static_assert(u(rc::kQpState) == u(IBV_QP_STATE) && u(rc::kQpAccessFlags) == u(IBV_QP_ACCESS_FLAGS) &&
              u(rc::kQpPkeyIndex) == u(IBV_QP_PKEY_INDEX) && u(rc::kQpPort) == u(IBV_QP_PORT) &&
              u(rc::kQpAv) == u(IBV_QP_AV) && u(rc::kQpPathMtu) == u(IBV_QP_PATH_MTU) &&
              u(rc::kQpTimeout) == u(IBV_QP_TIMEOUT) && u(rc::kQpRetryCnt) == u(IBV_QP_RETRY_CNT) &&
              u(rc::kQpRnrRetry) == u(IBV_QP_RNR_RETRY) && u(rc::kQpRqPsn) == u(IBV_QP_RQ_PSN) &&
              u(rc::kQpMaxQpRdAtomic) == u(IBV_QP_MAX_QP_RD_ATOMIC) &&
              u(rc::kQpMinRnrTimer) == u(IBV_QP_MIN_RNR_TIMER) && u(rc::kQpSqPsn) == u(IBV_QP_SQ_PSN) &&
              u(rc::kQpMaxDestRdAtomic) == u(IBV_QP_MAX_DEST_RD_ATOMIC) && u(rc::kQpDestQpn) == u(IBV_QP_DEST_QPN));
static_assert(static_cast<int>(rc::QpState::reset) == IBV_QPS_RESET && static_cast<int>(rc::QpState::init) == IBV_QPS_INIT &&
              static_cast<int>(rc::QpState::rtr) == IBV_QPS_RTR && static_cast<int>(rc::QpState::rts) == IBV_QPS_RTS &&
              static_cast<int>(rc::QpState::err) == IBV_QPS_ERR);

// A work request's SGEs as libibverbs takes them.
struct IbvSges {
  ibv_sge sge[kMaxSge];
  int n = 0;
  bool fits = true;  // false: more than kMaxSge
  explicit IbvSges(std::span<const rc::Sge> in) {
    fits = in.size() <= kMaxSge;
    if (!fits) return;
    for (const rc::Sge& g : in) sge[n++] = ibv_sge{g.addr, g.length, g.lkey};
  }
  // Sets what every work request carries: its id and these SGEs. False when they do not fit.
  template <class IbvWr>
  bool fill(IbvWr& w, uint64_t wr_id) {
    w.wr_id = wr_id;
    w.sg_list = sge;
    w.num_sge = n;
    return fits;
  }
};

rc::WorkCompletion convert(const ibv_wc& w) {
  rc::WorkCompletion o;
  o.wr_id = w.wr_id;
  o.status = static_cast<rc::WcStatus>(w.status);
  o.opcode = static_cast<rc::WcOpcode>(w.opcode);
  o.byte_len = w.byte_len;
  o.wc_flags = w.wc_flags & IBV_WC_WITH_IMM;
  o.imm = (w.wc_flags & IBV_WC_WITH_IMM) ? ntohl(w.imm_data) : 0;
  o.qp_num = w.qp_num;
  o.src_qp = w.src_qp;
  return o;
}

class VerbsDevice final : public Device {
 public:
  explicit VerbsDevice(const VerbsConfig& c) : sleep_(c.sleep) {
    try {
      verbs::Selection sel;
      sel.device = c.device;
      sel.port = c.port;
      sel.gid_index = c.gid_index;
      ep_ = verbs::choose_endpoint(verbs::selection_from_env(sel));
      ctx_ = std::make_unique<verbs::Context>(ep_);
    } catch (const verbs::VerbsError& e) {
      throw EndpointError(std::string("verbs: ") + e.what());
    }
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) throw_errno("eventfd");
    if (!sleep_) return;
    chan_ = ibv_create_comp_channel(ctx_->context());
    if (chan_ == nullptr) throw_errno("ibv_create_comp_channel");
    // Non-blocking: after epoll says readable, ibv_get_cq_event must not block when another event raced.
    ::fcntl(chan_->fd, F_SETFL, ::fcntl(chan_->fd, F_GETFL) | O_NONBLOCK);
    ep_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_fd_ < 0) throw_errno("epoll_create1");
    for (int fd : {chan_->fd, wake_fd_}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(ep_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl");
    }
  }

  ~VerbsDevice() override {
    for (auto& [qpn, qp] : qps_) ibv_destroy_qp(qp);
    if (unacked_send_) ibv_ack_cq_events(send_cq_, unacked_send_);
    if (unacked_recv_) ibv_ack_cq_events(recv_cq_, unacked_recv_);
    if (send_cq_) ibv_destroy_cq(send_cq_);
    if (recv_cq_) ibv_destroy_cq(recv_cq_);
    mrs_.clear();
    if (chan_) ibv_destroy_comp_channel(chan_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (ep_fd_ >= 0) ::close(ep_fd_);
  }

  DeviceCaps caps() const override { return {}; }  // the NIC speaks plain IBTA RC
  std::string name() const override {
    return "verbs " + ep_.device + " port " + std::to_string(ep_.port) + " GID " + std::to_string(ep_.gid_index);
  }
  udp::Address address() const override { return udp::Address::from_gid(ep_.gid, kRoceV2Port); }
  Gid gid() const override { return ep_.gid; }
  // The port decides: rxe on a 1500-byte netdev offers 1024.
  uint32_t max_mtu(uint32_t wanted) const override {
    return std::min<uint32_t>(wanted, static_cast<uint32_t>(ep_.active_mtu));
  }

  MemoryKey reg_mr(void* addr, size_t len, uint32_t access) override {
    try {
      mrs_.push_back(std::make_unique<verbs::MemoryRegion>(*ctx_, addr, len, access));
    } catch (const verbs::VerbsError& e) {
      throw EndpointError(std::string("verbs: ") + e.what());
    }
    return {mrs_.back()->lkey(), mrs_.back()->rkey(), reinterpret_cast<uint64_t>(addr)};
  }

  void dereg_mr(const MemoryKey& key) override {
    auto it = std::find_if(mrs_.begin(), mrs_.end(), [&](const auto& mr) { return mr->lkey() == key.lkey; });
    if (it == mrs_.end()) throw EndpointError("verbs: deregistering memory: key " + std::to_string(key.lkey) + " is not registered");
    mrs_.erase(it);
  }

  void create_cqs(size_t send_entries, size_t recv_entries) override {
    if (send_cq_) throw EndpointError(name() + ": completion queues created twice");
    send_cq_ = make_cq(send_entries);
    recv_cq_ = make_cq(recv_entries);
  }

  uint32_t create_qp(const QpConfig& c) override {
    if (!send_cq_) throw EndpointError(name() + ": create_cqs() must come before the first QP");
    if (c.cc != "none")
      throw EndpointError(name() + ": congestion control \"" + c.cc + "\" runs in rfab's engine; a verbs device's NIC "
                          "runs its own (configure it with the driver's tools, e.g. its DCQCN sysfs knobs)");
    ibv_qp_init_attr ia{};
    ia.send_cq = send_cq_;
    ia.recv_cq = recv_cq_;
    ia.qp_type = IBV_QPT_RC;
    ia.cap.max_send_wr = c.cap.max_send_wr;
    ia.cap.max_recv_wr = c.cap.max_recv_wr;
    ia.cap.max_send_sge = c.cap.max_send_sge;
    ia.cap.max_recv_sge = c.cap.max_recv_sge;
    ibv_qp* qp = ibv_create_qp(ctx_->pd(), &ia);
    if (qp == nullptr) throw_errno("ibv_create_qp (RC)");
    qps_[qp->qp_num] = qp;
    return qp->qp_num;
  }

  void modify_qp(uint32_t qpn, const rc::QpAttr& in, uint32_t mask, const udp::Address* peer,
                 const char* step) override {
    if ((mask & rc::kQpEntropy) && (in.entropy.kind != rc::EntropyPolicy::Kind::fixed || in.entropy.paths > 1))
      throw EndpointError(name() + ": QP " + std::to_string(qpn) + " to " + step +
                          ": spraying over several UDP source ports needs rfab's engine (a verbs device picks "
                          "its own source port)");
    if ((mask & rc::kQpLossRecovery) && in.loss_recovery != rc::LossRecovery::go_back_n)
      throw EndpointError(name() + ": QP " + std::to_string(qpn) + " to " + step +
                          ": selective loss recovery needs rfab's engine on both ends (the NIC does go-back-N)");
    ibv_qp_attr a{};
    a.qp_state = static_cast<ibv_qp_state>(in.qp_state);
    a.qp_access_flags = in.qp_access_flags;
    a.pkey_index = in.pkey_index;
    a.port_num = ep_.port;
    a.path_mtu = verbs::to_ibv_mtu(rc::mtu_bytes(in.path_mtu));
    a.rq_psn = in.rq_psn;
    a.sq_psn = in.sq_psn;
    a.dest_qp_num = in.dest_qp_num;
    a.timeout = in.timeout;
    a.retry_cnt = in.retry_cnt;
    a.rnr_retry = in.rnr_retry;
    a.min_rnr_timer = in.min_rnr_timer;
    a.max_rd_atomic = in.max_rd_atomic;
    a.max_dest_rd_atomic = in.max_dest_rd_atomic;
    int m = static_cast<int>(mask & ~uint32_t{rc::kQpEntropy | rc::kQpLossRecovery});
    if (peer != nullptr) {
      a.ah_attr.is_global = 1;  // RoCE: every packet carries the GRH, i.e. the IP header built from the GIDs
      const udp::Gid g = peer->gid();  // IPv4-mapped for an IPv4 peer, as rxe's GID table holds it
      std::memcpy(a.ah_attr.grh.dgid.raw, g.data(), 16);
      a.ah_attr.grh.sgid_index = static_cast<uint8_t>(ep_.gid_index);
      a.ah_attr.grh.hop_limit = 64;
      a.ah_attr.port_num = ep_.port;
      m |= IBV_QP_AV;
    }
    if (int e = ibv_modify_qp(qp(qpn), &a, m))
      throw EndpointError("ibv_modify_qp to " + std::string(step) + " on " + name() + " (QP " + std::to_string(qpn) +
                          "): " + std::strerror(e));
  }

  rc::QpState qp_state(uint32_t qpn) const override {
    ibv_qp_attr a{};
    ibv_qp_init_attr ia{};
    if (ibv_query_qp(qp(qpn), &a, IBV_QP_STATE, &ia) != 0) return rc::QpState::err;
    return static_cast<rc::QpState>(a.qp_state);
  }
  rc::QpStats qp_stats(uint32_t) const override { return {}; }  // the device keeps them (`rdma statistic`)
  cc::ControllerStats qp_cc(uint32_t) const override { return {}; }

  rc::Status post_send(uint32_t qpn, const rc::SendWr& wr) override {
    IbvSges sges(wr.sg_list);
    ibv_send_wr w{};
    if (!sges.fill(w, wr.wr_id)) return {rc::Errc::too_many_sge, "more than 16 SGEs"};
    w.opcode = static_cast<ibv_wr_opcode>(wr.opcode);  // rc's values are libibverbs' (checked in rfab::verbs)
    w.send_flags = wr.send_flags;
    w.imm_data = htonl(wr.imm);
    if (wr.opcode == rc::WrOpcode::atomic_cmp_and_swp || wr.opcode == rc::WrOpcode::atomic_fetch_and_add) {
      w.wr.atomic.remote_addr = wr.atomic.remote_addr;
      w.wr.atomic.compare_add = wr.atomic.compare_add;
      w.wr.atomic.swap = wr.atomic.swap;
      w.wr.atomic.rkey = wr.atomic.rkey;
    } else {
      w.wr.rdma.remote_addr = wr.rdma.remote_addr;
      w.wr.rdma.rkey = wr.rdma.rkey;
    }
    ibv_send_wr* bad = nullptr;
    if (int e = ibv_post_send(qp(qpn), &w, &bad)) return verbs::post_error(e);
    return {};
  }

  rc::Status post_recv(uint32_t qpn, const rc::RecvWr& wr) override {
    IbvSges sges(wr.sg_list);
    ibv_recv_wr w{};
    if (!sges.fill(w, wr.wr_id)) return {rc::Errc::too_many_sge, "more than 16 SGEs"};
    ibv_recv_wr* bad = nullptr;
    if (int e = ibv_post_recv(qp(qpn), &w, &bad)) return verbs::post_error(e);
    return {};
  }

  size_t poll_send(std::span<rc::WorkCompletion> out) override { return poll(send_cq_, held_send_, out); }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override { return poll(recv_cq_, held_recv_, out); }

  // Nothing to move (the device does it). To sleep: arm both CQs, then look once more (a completion that
  // arrived before arming raises no event), then wait on the channel and the wake-up eventfd.
  bool progress(Nanos max_wait) override {
    if (!sleep_) {
      std::this_thread::yield();  // rxe's kernel work may need this CPU
      return false;
    }
    if (max_wait == 0 || send_cq_ == nullptr) return false;
    ibv_req_notify_cq(send_cq_, 0);
    ibv_req_notify_cq(recv_cq_, 0);
    if (peek(send_cq_, held_send_) || peek(recv_cq_, held_recv_)) return true;
    epoll_event evs[2];
    const int ms = static_cast<int>(std::min<Nanos>(std::max<Nanos>(1, (max_wait + 999'999) / 1'000'000), 1u << 30));
    const int n = ::epoll_wait(ep_fd_, evs, 2, ms);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == wake_fd_) {
        uint64_t v;
        (void)::read(wake_fd_, &v, sizeof v);
        continue;
      }
      ibv_cq* cq = nullptr;
      void* ctx = nullptr;
      while (ibv_get_cq_event(chan_, &cq, &ctx) == 0) (cq == send_cq_ ? unacked_send_ : unacked_recv_)++;
      // Acknowledging takes a mutex in libibverbs: batch it.
      if (unacked_send_ >= 64) ibv_ack_cq_events(send_cq_, std::exchange(unacked_send_, 0));
      if (unacked_recv_ >= 64) ibv_ack_cq_events(recv_cq_, std::exchange(unacked_recv_, 0));
    }
    return n > 0;
  }

  Nanos now() const override {
    return static_cast<Nanos>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch()).count());
  }

  void wake() override {
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
  }

  DeviceCounters counters() const override { return {}; }  // the device moves (and counts) the packets

 private:
  [[noreturn]] void throw_errno(const char* call) const {
    throw EndpointError(std::string(call) + " on verbs " + ep_.device + ": " + std::strerror(errno));
  }

  ibv_qp* qp(uint32_t qpn) const {
    auto it = qps_.find(qpn);
    if (it == qps_.end()) throw EndpointError(name() + ": no QP " + std::to_string(qpn));
    return it->second;
  }

  ibv_cq* make_cq(size_t entries) {
    ibv_cq* cq = ibv_create_cq(ctx_->context(), static_cast<int>(std::min<size_t>(entries, 1u << 22)), nullptr, chan_, 0);
    if (cq == nullptr) throw_errno(("ibv_create_cq(" + std::to_string(entries) + ")").c_str());
    return cq;
  }

  // Completions polled while deciding whether to sleep are kept and handed out first, in arrival order
  // (a peer's data immediates must be seen in order).
  static bool peek(ibv_cq* cq, std::vector<rc::WorkCompletion>& held) {
    if (!held.empty()) return true;
    ibv_wc wc[16];
    const int n = ibv_poll_cq(cq, 16, wc);
    for (int i = 0; i < n; ++i) held.push_back(convert(wc[i]));
    return n > 0;
  }

  static size_t poll(ibv_cq* cq, std::vector<rc::WorkCompletion>& held, std::span<rc::WorkCompletion> out) {
    if (cq == nullptr) return 0;
    size_t got = std::min(held.size(), out.size());
    std::copy_n(held.begin(), got, out.begin());
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(got));
    ibv_wc wc[32];
    while (got < out.size()) {
      const int want = static_cast<int>(std::min<size_t>(32, out.size() - got));
      const int n = ibv_poll_cq(cq, want, wc);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) out[got++] = convert(wc[i]);
      if (n < want) break;
    }
    return got;
  }

  bool sleep_;
  verbs::Endpoint ep_;
  std::unique_ptr<verbs::Context> ctx_;
  ibv_comp_channel* chan_ = nullptr;
  int wake_fd_ = -1, ep_fd_ = -1;
  ibv_cq* send_cq_ = nullptr;
  ibv_cq* recv_cq_ = nullptr;
  unsigned unacked_send_ = 0, unacked_recv_ = 0;
  std::unordered_map<uint32_t, ibv_qp*> qps_;
  std::vector<std::unique_ptr<verbs::MemoryRegion>> mrs_;
  std::vector<rc::WorkCompletion> held_send_, held_recv_;
};

}  // namespace

std::unique_ptr<Device> make_verbs_device(const VerbsConfig& config) { return std::make_unique<VerbsDevice>(config); }

bool verbs_device_present() {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list != nullptr) ibv_free_device_list(list);
  if (n <= 0) return false;
  try {
    verbs::choose_endpoint(verbs::selection_from_env(verbs::Selection{}));
    return true;
  } catch (const verbs::VerbsError&) {
    return false;  // a device without an active RoCE v2 port: the engine over UDP still works
  }
}

}  // namespace rfab::endpoint
