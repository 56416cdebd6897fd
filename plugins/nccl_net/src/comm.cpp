#include "comm.hpp"

#include <chrono>

#include "log.hpp"
#include "rfab/endpoint/connect.hpp"

namespace rfab::ncclnet {
namespace {

// How often a call that waits for the peer checks the side channel for the peer's end.
constexpr Nanos kLivenessCheck = 100'000'000;

bool local_failure(rc::WcStatus s) {
  return s == rc::WcStatus::loc_len_err || s == rc::WcStatus::loc_qp_op_err || s == rc::WcStatus::loc_prot_err ||
         s == rc::WcStatus::wr_flush_err;
}

}  // namespace

// ---- Comm ----

Comm::Comm(NetDevice& dev, uint32_t qpn, ControlSlice control) : dev_(dev), qpn_(qpn), control_(control) {}

void Comm::set_channel(sidechannel::TcpChannel channel) {
  channel_ = std::move(channel);
  // Nothing travels on the side channel after set-up; keepalives make a vanished peer (dead host, cut
  // link) end it, which check_peer() sees, even while this side only waits for receives that never come.
  channel_.enable_keepalive(std::chrono::seconds(1), std::chrono::seconds(1), 3);
  peer_ = channel_.peer_ip();
}

Comm::~Comm() {
  magic = 0;
  dev_.detach(qpn_);
  endpoint::fail_qp(dev_.dev(), qpn_);  // sends nothing more; what is still posted completes flushed, unseen
  dev_.give_control(control_);
}

ncclResult_t Comm::failure() {
  if (error_code_ != ncclSuccess && !error_logged_) {
    error_logged_ = true;
    RFAB_NCCL_WARN("connection QP " + std::to_string(qpn_) + " with " + peer_ + " failed: " + error_);
  }
  return error_code_;
}

void Comm::fail(ncclResult_t code, const std::string& why) {
  if (error_code_ != ncclSuccess) return;  // the first cause is the one worth reporting
  error_code_ = code;
  error_ = why;
  endpoint::fail_qp(dev_.dev(), qpn_);
}

ncclResult_t Comm::check_peer() {
  const Nanos now = dev_.dev().now();
  if (error_code_ == ncclSuccess && now >= next_liveness_check_) {
    next_liveness_check_ = now + kLivenessCheck;
    // Nothing travels on the side channel after set-up, so anything readable is its end: the peer
    // closed the comm or its process is gone.
    if (channel_.readable(std::chrono::milliseconds(0)))
      fail(ncclRemoteError,
           "the peer's side-channel connection ended (its process ended, it closed the comm, or it stopped "
           "answering TCP keepalives)");
  }
  return failure();
}

void Comm::fail_on_error(const rc::WorkCompletion& wc, const char* what) {
  if (wc.status == rc::WcStatus::success) return;
  fail(local_failure(wc.status) ? ncclSystemError : ncclRemoteError,
       std::string(what) + " completed with " + rc::to_string(wc.status) +
           (wc.status == rc::WcStatus::retry_exc_err ? " (the peer stopped acknowledging)" : ""));
}

Request* Comm::new_request(bool is_send, int n) {
  for (size_t k = 0; k < pool_.size(); ++k) {
    Request& r = pool_[(free_hint_ + k) % pool_.size()];
    if (r.magic == Request::kMagic) continue;
    r = Request{};
    r.magic = Request::kMagic;
    r.comm = this;
    r.is_send = is_send;
    r.n = n;
    free_hint_ = static_cast<int>((index_of(&r) + 1) % pool_.size());
    return &r;
  }
  return nullptr;
}

void Comm::free_request(Request* r) { r->magic = 0; }

Request* Comm::request_at(uint64_t index) {
  if (index >= pool_.size() || pool_[index].magic != Request::kMagic) return nullptr;
  return &pool_[index];
}

ncclResult_t Comm::test(Request* r, int* done, int* sizes) {
  NetDevice::Lock lock(dev_);
  dev_.poll();
  if (r->completed == r->n) {
    *done = 1;
    if (sizes != nullptr)
      for (int i = 0; i < r->n; ++i) sizes[i] = r->sizes[i];
    retire(r);
    free_request(r);
    return ncclSuccess;
  }
  *done = 0;
  if (const ncclResult_t e = failure()) return e;
  return check_peer();
}

// ---- SendComm ----

SendComm::SendComm(NetDevice& dev, uint32_t qpn, ControlSlice control) : Comm(dev, qpn, control) {
  magic = kSendMagic;
  for (uint32_t s = 0; s < kSlots; ++s) post_fifo_recv(s);
  if (const ncclResult_t e = failure(); e != ncclSuccess)
    throw endpoint::EndpointError("posting the descriptor FIFO's receives failed");
}

void SendComm::post_fifo_recv(uint32_t slot) {
  const rc::Sge sge{reinterpret_cast<uint64_t>(&fifo()[slot]), sizeof(Descriptor), control_.lkey};
  rc::RecvWr wr;
  wr.wr_id = make_wr_id(WrKind::fifo_recv, slot);
  wr.sg_list = {&sge, 1};
  const rc::Status st = dev_.dev().post_recv(qpn_, wr);
  if (!st.ok()) fail(ncclSystemError, std::string("posting a descriptor receive: ") + st.what);
}

ncclResult_t SendComm::isend(void* data, int size, int tag, const MemHandle& mh, void** request) {
  *request = nullptr;
  NetDevice::Lock lock(dev_);
  dev_.poll();
  if (const ncclResult_t e = failure()) return e;
  if (static_cast<int32_t>(arrived_ - head_) < 0) return check_peer();  // the receiver has not posted yet
  const uint32_t slot = fifo_slot(head_);
  const Descriptor& d = fifo()[slot];
  for (uint32_t r = 0; r < d.nreqs; ++r) {
    if (matched_[slot][r] != nullptr || d.elems[r].tag != tag) continue;
    if (size > d.elems[r].size) {
      RFAB_NCCL_WARN("isend of " + std::to_string(size) + " bytes with tag " + std::to_string(tag) + " to " + peer_ +
                     ": the matching receive posted only " + std::to_string(d.elems[r].size) +
                     " bytes (the two ranks disagree on the operation)");
      return ncclInvalidUsage;
    }
    Request* q = new_request(true, 1);
    if (q == nullptr) return ncclSuccess;  // every request in use: NCCL tries again
    q->sizes[0] = size;
    q->addr = reinterpret_cast<uint64_t>(data);
    q->lkey = mh.key.lkey;
    matched_[slot][r] = q;
    bool all = true;
    for (uint32_t k = 0; k < d.nreqs; ++k) all = all && matched_[slot][k] != nullptr;
    if (all) post_payloads(slot);
    *request = q;
    return failure();
  }
  return check_peer();  // no element with this tag (yet): NCCL tries again
}

void SendComm::post_payloads(uint32_t slot) {
  const Descriptor& d = fifo()[slot];
  for (uint32_t r = 0; r < d.nreqs; ++r) {
    Request* q = matched_[slot][r];
    const rc::Sge sge{q->addr, static_cast<uint32_t>(q->sizes[0]), q->lkey};
    rc::SendWr wr;
    wr.wr_id = make_wr_id(WrKind::payload, index_of(q));
    wr.opcode = rc::WrOpcode::rdma_write_with_imm;
    if (q->sizes[0] > 0) wr.sg_list = {&sge, 1};
    wr.imm = make_imm(seq_bits(d.seq), static_cast<int>(r));
    wr.rdma.remote_addr = d.elems[r].addr;
    wr.rdma.rkey = d.elems[r].rkey;
    const rc::Status st = dev_.dev().post_send(qpn_, wr);
    if (!st.ok()) fail(ncclSystemError, std::string("posting a payload write: ") + st.what);
  }
  matched_[slot] = {};
  ++head_;
  post_fifo_recv(slot);  // the slot's next descriptor may come now
}

void SendComm::on_send_completion(const rc::WorkCompletion& wc) {
  fail_on_error(wc, "a payload write");
  if (wc.status != rc::WcStatus::success || wr_kind(wc.wr_id) != WrKind::payload) return;
  if (Request* q = request_at(wr_index(wc.wr_id)); q != nullptr) q->completed = 1;
}

void SendComm::on_recv_completion(const rc::WorkCompletion& wc) {
  fail_on_error(wc, "a descriptor receive");
  if (wc.status != rc::WcStatus::success) return;
  const uint32_t slot = static_cast<uint32_t>(wr_index(wc.wr_id));
  const Descriptor& d = fifo()[slot % kSlots];  // checked against the sequence number below
  const uint32_t expected = arrived_ + 1;
  if (wc.opcode != rc::WcOpcode::recv || wc.byte_len != sizeof(Descriptor) || d.seq != expected ||
      fifo_slot(d.seq) != slot || d.nreqs < 1 || d.nreqs > kMaxRecvs) {
    fail(ncclRemoteError, "protocol error: descriptor " + std::to_string(d.seq) + " (" + std::to_string(wc.byte_len) +
                              " bytes, " + std::to_string(d.nreqs) + " receives) where " + std::to_string(expected) +
                              " was due");
    return;
  }
  for (uint32_t r = 0; r < d.nreqs; ++r)
    if (d.elems[r].size < 0) {
      fail(ncclRemoteError, "protocol error: descriptor " + std::to_string(d.seq) + " with a negative size");
      return;
    }
  arrived_ = expected;
}

// ---- RecvComm ----

RecvComm::RecvComm(NetDevice& dev, uint32_t qpn, ControlSlice control) : Comm(dev, qpn, control) {
  magic = kRecvMagic;
}

ncclResult_t RecvComm::irecv(int n, void** data, const int* sizes, const int* tags, MemHandle* const* mh,
                             void** request) {
  *request = nullptr;
  NetDevice::Lock lock(dev_);
  dev_.poll();
  if (const ncclResult_t e = failure()) return e;
  if (outstanding_ >= kSlots) return check_peer();  // the window is full: NCCL tries again
  Request* q = new_request(false, n);
  if (q == nullptr) return check_peer();
  const uint32_t seq = next_seq_;
  const uint32_t slot = seq % kSlots;
  Descriptor& d = staging()[slot];
  d = Descriptor{};
  d.seq = seq;
  d.nreqs = static_cast<uint32_t>(n);
  for (int r = 0; r < n; ++r) {
    rc::RecvWr wr;  // no SGE: the write places the payload, the receive only takes its immediate
    wr.wr_id = make_wr_id(WrKind::data_recv, static_cast<uint64_t>(r));
    const rc::Status st = dev_.dev().post_recv(qpn_, wr);
    if (!st.ok()) fail(ncclSystemError, std::string("posting a receive: ") + st.what);
    if (mh[r] != nullptr) {
      d.elems[r].addr = mh[r]->key.addr + (reinterpret_cast<uintptr_t>(data[r]) - mh[r]->addr);
      d.elems[r].rkey = mh[r]->key.rkey;
    }
    d.elems[r].size = sizes[r];
    d.elems[r].tag = tags[r];
  }
  const rc::Sge sge{reinterpret_cast<uint64_t>(&d), sizeof(Descriptor), control_.lkey};
  rc::SendWr wr;
  wr.wr_id = make_wr_id(WrKind::descriptor, slot);
  wr.opcode = rc::WrOpcode::send;
  wr.sg_list = {&sge, 1};
  const rc::Status st = dev_.dev().post_send(qpn_, wr);
  if (!st.ok()) fail(ncclSystemError, std::string("posting a descriptor: ") + st.what);
  if (const ncclResult_t e = failure()) {
    free_request(q);
    return e;
  }
  q->seq = seq;
  by_slot_[slot] = q;
  ++next_seq_;
  ++outstanding_;
  *request = q;
  return ncclSuccess;
}

void RecvComm::on_send_completion(const rc::WorkCompletion& wc) { fail_on_error(wc, "a descriptor send"); }

void RecvComm::on_recv_completion(const rc::WorkCompletion& wc) {
  fail_on_error(wc, "a payload receive");
  if (wc.status != rc::WcStatus::success) return;
  if (wc.opcode != rc::WcOpcode::recv_rdma_with_imm || (wc.wc_flags & rc::kWcWithImm) == 0) {
    fail(ncclRemoteError, "protocol error: a receive completion that is not a write with immediate");
    return;
  }
  const uint32_t seq = imm_seq(wc.imm);
  const int r = imm_elem(wc.imm);
  Request* q = by_slot_[seq % kSlots];
  if (q == nullptr || seq_bits(q->seq) != seq || r >= q->n || (q->landed & (1u << r)) != 0 ||
      wc.byte_len > static_cast<uint32_t>(staging()[seq % kSlots].elems[r].size)) {
    fail(ncclRemoteError, "protocol error: a write for receive " + std::to_string(seq) + " element " +
                              std::to_string(r) + " (" + std::to_string(wc.byte_len) + " bytes) that was not posted");
    return;
  }
  q->landed |= 1u << r;
  q->sizes[r] = static_cast<int>(wc.byte_len);
  ++q->completed;
}

void RecvComm::retire(Request* r) {
  --outstanding_;
  by_slot_[r->seq % kSlots] = nullptr;
}

}  // namespace rfab::ncclnet
