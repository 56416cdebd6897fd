// The RoCE transport on an RDMA device through libibverbs (an RNIC, or Linux rxe): the device is the RC
// engine, so this maps the provider interface straight onto ibv_* calls. Same wire protocol as the udp
// provider, so a verbs rank and a udp rank talk to each other (the peer's GID is its published IP, as an
// IPv4-mapped address; RoCE v2 always sends to UDP port 4791, so a udp peer must bind 4791).
//
// Sleeping: the datapath thread must not busy-poll (a rank's application thread may share its only core,
// as in the one-vCPU lab guests), so both CQs share a completion channel and the thread sleeps in epoll
// on the channel's fd plus an eventfd that wake() writes.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>
#include <vector>

#include "rfab/collectives/types.hpp"
#include "roce_provider.hpp"

#ifdef RFAB_COLL_WITH_VERBS
#include <arpa/inet.h>
#include <fcntl.h>
#include <infiniband/verbs.h>

#include "rfab/verbs/device.hpp"
#include "rfab/verbs/ibv_convert.hpp"
#include "rfab/verbs/rc_qp.hpp"
#endif

namespace rfab::coll {

#ifdef RFAB_COLL_WITH_VERBS
namespace {

constexpr uint16_t kRoceV2Port = 4791;

using verbs::post_error;
using verbs::to_ibv_mtu;

class VerbsProvider final : public RoceProvider {
 public:
  VerbsProvider(const RoceOptions& opt, int rank) : rank_(rank) {
    try {
      verbs::Selection sel;
      sel.device = opt.device;
      ep_ = verbs::choose_endpoint(verbs::selection_from_env(sel));
      dev_ = std::make_unique<verbs::Device>(ep_);
    } catch (const verbs::VerbsError& e) {
      throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + " (verbs): " + e.what());
    }
    const std::string ip = ep_.ipv4();
    if (ip.empty())
      throw Error(Status::System, "RoCE transport of rank " + std::to_string(rank) + ": " + ep_.device +
                                      " GID index " + std::to_string(ep_.gid_index) + " is not IPv4-mapped");
    local_ = udp::Address::parse_or_throw(ip, kRoceV2Port, "RoCE GID address");
    chan_ = ibv_create_comp_channel(dev_->context());
    if (chan_ == nullptr) throw Error(Status::System, "ibv_create_comp_channel on " + ep_.device + ": " + std::strerror(errno));
    // Non-blocking: after epoll says readable, ibv_get_cq_event must not block when another event raced.
    ::fcntl(chan_->fd, F_SETFL, ::fcntl(chan_->fd, F_GETFL) | O_NONBLOCK);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ep_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (wake_fd_ < 0 || ep_fd_ < 0) throw_errno("RoCE verbs eventfd/epoll");
    for (int fd : {chan_->fd, wake_fd_}) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(ep_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("RoCE verbs epoll_ctl");
    }
  }

  ~VerbsProvider() override {
    for (auto& q : qps_)
      if (q) ibv_destroy_qp(q);
    if (unacked_send_) ibv_ack_cq_events(send_cq_, unacked_send_);
    if (unacked_recv_) ibv_ack_cq_events(recv_cq_, unacked_recv_);
    if (send_cq_) ibv_destroy_cq(send_cq_);
    if (recv_cq_) ibv_destroy_cq(recv_cq_);
    mrs_.clear();
    if (chan_) ibv_destroy_comp_channel(chan_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    if (ep_fd_ >= 0) ::close(ep_fd_);
  }

  std::string name() const override { return "verbs " + ep_.device; }
  udp::Address local() const override { return local_; }
  // The device's port decides: rxe on a 1500-byte netdev offers 1024.
  uint32_t max_mtu(uint32_t wanted) const override {
    return std::min<uint32_t>(wanted, static_cast<uint32_t>(ep_.active_mtu));
  }

  RoceMr reg_mr(void* addr, size_t len, uint32_t access) override {
    try {
      mrs_.push_back(std::make_unique<verbs::MemoryRegion>(*dev_, addr, len, access));
    } catch (const verbs::VerbsError& e) {
      throw Error(Status::System, std::string("RoCE (verbs): ") + e.what());
    }
    return {mrs_.back()->lkey(), mrs_.back()->rkey(), reinterpret_cast<uint64_t>(addr)};
  }

  uint32_t create_qp(const RoceQpSetup& s, size_t npeers) override {
    if (send_cq_ == nullptr) {
      send_cq_ = make_cq(static_cast<int>(npeers * s.max_send_wr + 16));
      recv_cq_ = make_cq(static_cast<int>(npeers * s.max_recv_wr + 16));
    }
    ibv_qp_init_attr ia{};
    ia.send_cq = send_cq_;
    ia.recv_cq = recv_cq_;
    ia.qp_type = IBV_QPT_RC;
    ia.sq_sig_all = 1;  // every send completes: the transport counts outstanding work requests
    ia.cap.max_send_wr = s.max_send_wr;
    ia.cap.max_recv_wr = s.max_recv_wr;
    ia.cap.max_send_sge = 1;
    ia.cap.max_recv_sge = 1;
    ibv_qp* qp = ibv_create_qp(dev_->pd(), &ia);
    if (qp == nullptr)
      throw Error(Status::System, "ibv_create_qp (RC) on " + ep_.device + ": " + std::strerror(errno));
    if (qps_.size() <= static_cast<size_t>(s.peer)) qps_.resize(static_cast<size_t>(s.peer) + 1, nullptr);
    qps_[static_cast<size_t>(s.peer)] = qp;
    by_qpn_[qp->qp_num] = s.peer;
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_INIT;
    a.pkey_index = 0;
    a.port_num = ep_.port;
    a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
    modify(qp, a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, "RESET->INIT");
    return qp->qp_num;
  }

  void connect_qp(int peer, const RoceQpConnect& c) override {
    ibv_qp* qp = qps_.at(static_cast<size_t>(peer));
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_RTR;
    a.path_mtu = to_ibv_mtu(c.mtu);
    a.dest_qp_num = c.qpn;
    a.rq_psn = c.psn;
    a.max_dest_rd_atomic = 1;
    a.min_rnr_timer = 1;
    a.ah_attr.is_global = 1;  // RoCE: the GRH (i.e. the IP header) is built from the GIDs
    const udp::Gid g = c.peer.gid();  // IPv4-mapped for an IPv4 peer, as rxe's GID table holds it
    std::memcpy(a.ah_attr.grh.dgid.raw, g.data(), 16);
    a.ah_attr.grh.sgid_index = static_cast<uint8_t>(ep_.gid_index);
    a.ah_attr.grh.hop_limit = 64;
    a.ah_attr.port_num = ep_.port;
    modify(qp, a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                      IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER, "INIT->RTR");
    ibv_qp_attr r{};
    r.qp_state = IBV_QPS_RTS;
    r.timeout = c.ack_timeout;
    r.retry_cnt = 7;
    r.rnr_retry = 7;
    r.sq_psn = c.sq_psn;
    r.max_rd_atomic = 1;
    modify(qp, r, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                      IBV_QP_MAX_QP_RD_ATOMIC, "RTR->RTS");
  }

  rc::Status post_send(int peer, const rc::SendWr& wr) override {
    ibv_sge sge{};
    ibv_send_wr w{};
    w.wr_id = wr.wr_id;
    if (!wr.sg_list.empty()) {
      sge = ibv_sge{wr.sg_list[0].addr, wr.sg_list[0].length, wr.sg_list[0].lkey};
      w.sg_list = &sge;
      w.num_sge = 1;
    }
    w.opcode = static_cast<ibv_wr_opcode>(wr.opcode);  // rc's values are libibverbs' (static_asserts in verbs)
    w.send_flags = IBV_SEND_SIGNALED;
    w.imm_data = htonl(wr.imm);
    w.wr.rdma.remote_addr = wr.rdma.remote_addr;
    w.wr.rdma.rkey = wr.rdma.rkey;
    ibv_send_wr* bad = nullptr;
    if (int e = ibv_post_send(qps_[static_cast<size_t>(peer)], &w, &bad)) return post_error(e);
    return {};
  }

  rc::Status post_recv(int peer, const rc::RecvWr& wr) override {
    ibv_recv_wr w{};  // no SGE: only WRITE WITH IMMEDIATE arrives
    w.wr_id = wr.wr_id;
    ibv_recv_wr* bad = nullptr;
    if (int e = ibv_post_recv(qps_[static_cast<size_t>(peer)], &w, &bad)) return post_error(e);
    return {};
  }

  bool qp_in_error(int peer) const override {
    ibv_qp_attr a{};
    ibv_qp_init_attr ia{};
    if (ibv_query_qp(qps_[static_cast<size_t>(peer)], &a, IBV_QP_STATE, &ia) != 0) return true;
    return a.qp_state == IBV_QPS_ERR;
  }

  void fail_qp(int peer) override {
    ibv_qp_attr a{};
    a.qp_state = IBV_QPS_ERR;
    (void)ibv_modify_qp(qps_[static_cast<size_t>(peer)], &a, IBV_QP_STATE);  // best effort: we are failing
  }

  size_t poll_send(std::span<rc::WorkCompletion> out) override { return poll(send_cq_, out); }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override { return poll(recv_cq_, out); }

  int peer_of(uint32_t qpn) const override {
    auto it = by_qpn_.find(qpn);
    return it == by_qpn_.end() ? -1 : it->second;
  }

  // Nothing to move (the device does it). To sleep: arm both CQs, then look once more (a completion that
  // arrived before arming raises no event), then wait on the channel and the wake-up eventfd.
  bool progress(uint64_t max_wait_ns) override {
    if (max_wait_ns == 0) return false;
    ibv_req_notify_cq(send_cq_, 0);
    ibv_req_notify_cq(recv_cq_, 0);
    if (peek(send_cq_) || peek(recv_cq_)) return true;
    epoll_event evs[2];
    const int ms = static_cast<int>(std::max<uint64_t>(1, (max_wait_ns + 999'999) / 1'000'000));
    const int n = ::epoll_wait(ep_fd_, evs, 2, ms);
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == wake_fd_) {
        uint64_t v;
        (void)::read(wake_fd_, &v, sizeof v);
      } else {
        ibv_cq* cq = nullptr;
        void* ctx = nullptr;
        while (ibv_get_cq_event(chan_, &cq, &ctx) == 0) (cq == send_cq_ ? unacked_send_ : unacked_recv_)++;
        // Acknowledging takes a mutex in libibverbs: batch it.
        if (unacked_send_ >= 64) { ibv_ack_cq_events(send_cq_, unacked_send_); unacked_send_ = 0; }
        if (unacked_recv_ >= 64) { ibv_ack_cq_events(recv_cq_, unacked_recv_); unacked_recv_ = 0; }
      }
    }
    return n > 0;
  }

  uint64_t now() const override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch()).count());
  }

  void wake() override {
    const uint64_t one = 1;
    (void)::write(wake_fd_, &one, sizeof one);
  }

  void print_debug(std::FILE* f, int rank) const override {
    std::fprintf(f, "rfab roce rank %d: verbs device %s port %d GID index %d (packet counters: `rdma statistic`)\n",
                 rank, ep_.device.c_str(), ep_.port, ep_.gid_index);
  }

 private:
  ibv_cq* make_cq(int depth) {
    ibv_cq* cq = ibv_create_cq(dev_->context(), depth, nullptr, chan_, 0);
    if (cq == nullptr)
      throw Error(Status::System, "ibv_create_cq(" + std::to_string(depth) + ") on " + ep_.device + ": " + std::strerror(errno));
    return cq;
  }

  void modify(ibv_qp* qp, ibv_qp_attr& a, int mask, const char* step) {
    if (int e = ibv_modify_qp(qp, &a, mask))
      throw Error(Status::System, std::string("ibv_modify_qp ") + step + " on " + ep_.device + " (rank " +
                                      std::to_string(rank_) + ", GID index " + std::to_string(ep_.gid_index) +
                                      "): " + std::strerror(e));
  }

  // Completions polled while deciding whether to sleep are kept here and handed out first.
  bool peek(ibv_cq* cq) {
    auto& buf = cq == send_cq_ ? held_send_ : held_recv_;
    if (!buf.empty()) return true;
    ibv_wc wc[16];
    const int n = ibv_poll_cq(cq, 16, wc);
    for (int i = 0; i < n; ++i) buf.push_back(convert(wc[i]));
    return n > 0;
  }

  static rc::WorkCompletion convert(const ibv_wc& w) {
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

  size_t poll(ibv_cq* cq, std::span<rc::WorkCompletion> out) {
    auto& buf = cq == send_cq_ ? held_send_ : held_recv_;
    size_t got = 0;
    // In arrival order: a peer's data immediates must be seen in order (30-bit offsets extend forward).
    const size_t take = std::min(buf.size(), out.size());
    for (; got < take; ++got) out[got] = buf[got];
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(take));
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

  int rank_;
  verbs::Endpoint ep_;
  std::unique_ptr<verbs::Device> dev_;
  udp::Address local_;
  ibv_comp_channel* chan_ = nullptr;
  int wake_fd_ = -1, ep_fd_ = -1;
  ibv_cq* send_cq_ = nullptr;
  ibv_cq* recv_cq_ = nullptr;
  unsigned unacked_send_ = 0, unacked_recv_ = 0;
  std::vector<ibv_qp*> qps_;  // indexed by peer rank
  std::unordered_map<uint32_t, int> by_qpn_;
  std::vector<std::unique_ptr<verbs::MemoryRegion>> mrs_;
  std::vector<rc::WorkCompletion> held_send_, held_recv_;
};

}  // namespace

std::unique_ptr<RoceProvider> make_verbs_provider(const RoceOptions& opt, int rank) {
  return std::make_unique<VerbsProvider>(opt, rank);
}

bool verbs_device_present() {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list != nullptr) ibv_free_device_list(list);
  if (n <= 0) return false;
  try {
    verbs::choose_endpoint(verbs::selection_from_env(verbs::Selection{}));
    return true;
  } catch (const verbs::VerbsError&) {
    return false;  // a device without an active RoCE v2 port: the udp path still works
  }
}

#else  // built without libibverbs

std::unique_ptr<RoceProvider> make_verbs_provider(const RoceOptions&, int rank) {
  throw Error(Status::InvalidArgument, "RoCE transport of rank " + std::to_string(rank) +
                                           ": RFAB_TRANSPORT=verbs, but rfab was built without libibverbs "
                                           "(install libibverbs-dev and rebuild with RFAB_WITH_VERBS=ON)");
}
bool verbs_device_present() { return false; }

#endif

std::unique_ptr<RoceProvider> make_roce_provider(const RoceOptions& opt, int rank) {
  if (opt.transport == "udp") return make_udp_provider(opt, rank);
  if (opt.transport == "verbs" || !opt.device.empty()) return make_verbs_provider(opt, rank);
  return verbs_device_present() ? make_verbs_provider(opt, rank) : make_udp_provider(opt, rank);
}

}  // namespace rfab::coll
