#include "setup.hpp"

#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>

#include "conn_record.hpp"
#include "log.hpp"
#include "rfab/endpoint/connect.hpp"

namespace rfab::ncclnet {
namespace {

uint32_t random_u32() {
  static std::mutex mu;
  static std::mt19937 rng{std::random_device{}()};
  std::lock_guard<std::mutex> l(mu);
  return static_cast<uint32_t>(rng());
}

// RC settings every comm uses: enough work requests for a full descriptor FIFO and every payload write
// of it, one SGE each.
endpoint::QpConfig qp_config() {
  endpoint::QpConfig c;
  c.cap.max_send_wr = kSlots * (kMaxRecvs + 1);
  c.cap.max_recv_wr = kSlots * (kMaxRecvs + 1);
  c.cap.max_send_sge = 1;
  c.cap.max_recv_sge = 1;
  return c;
}

// The part of a handshake both sides share, on a connected side channel: create the QP, post what must be
// posted before the peer may send, exchange records, connect, barrier. `nonce` is the handle's.
std::unique_ptr<Comm> establish(NetDevice& dev, sidechannel::TcpChannel ch, Role role, uint32_t nonce,
                                std::chrono::milliseconds timeout) {
  ConnRecord mine;
  mine.role = role;
  mine.nonce = nonce;
  mine.psn = random_u32() & 0xFFFFFF;
  std::unique_ptr<Comm> comm;
  {
    NetDevice::Lock lock(dev);
    mine.qpn = endpoint::open_qp(dev.dev(), qp_config(), rc::kRemoteWrite);
    mine.mtu = dev.max_mtu();
    mine.roce = dev.dev().address();
    mine.selective_recovery = dev.dev().caps().selective_recovery;
    ControlSlice ctl = dev.take_control(kControlBytes);
    try {
      if (role == Role::sender)
        comm = std::make_unique<SendComm>(dev, mine.qpn, ctl);
      else
        comm = std::make_unique<RecvComm>(dev, mine.qpn, ctl);
    } catch (...) {
      dev.give_control(ctl);
      endpoint::fail_qp(dev.dev(), mine.qpn);
      throw;
    }
  }
  // From here on the comm owns the QP: any failure destroys it under the lock (the QP goes to ERR).
  auto discard = [&] {
    NetDevice::Lock lock(dev);
    comm.reset();
  };
  try {
    RecordBytes theirs_bytes{};
    const RecordBytes mine_bytes = encode_record(mine);
    ch.exchange(mine_bytes, theirs_bytes, timeout, "QP records");
    std::string why;
    const std::optional<ConnRecord> theirs = decode_record(theirs_bytes, why);
    if (!theirs) throw std::runtime_error("bad QP record from " + ch.peer() + ": " + why);
    if (theirs->role == role) throw std::runtime_error("the peer " + ch.peer() + " has the same role");
    if (theirs->nonce != nonce)
      throw std::runtime_error("the peer " + ch.peer() + " answered for another listen handle (stale handle?)");
    endpoint::ConnectParams p;
    p.peer = theirs->roce;
    p.remote_qpn = theirs->qpn;
    p.remote_psn = theirs->psn;
    p.local_psn = mine.psn;
    p.mtu = std::min(mine.mtu, theirs->mtu);
    p.access = rc::kRemoteWrite;
    p.loss_recovery = mine.selective_recovery && theirs->selective_recovery ? rc::LossRecovery::selective
                                                                             : rc::LossRecovery::go_back_n;
    {
      NetDevice::Lock lock(dev);
      endpoint::connect(dev.dev(), mine.qpn, p);
      dev.attach(mine.qpn, comm.get());
    }
    ch.barrier(timeout, "connection ready");
  } catch (...) {
    discard();
    throw;
  }
  comm->set_channel(std::move(ch));
  return comm;
}

// Runs `body` on the handshake's worker thread, recording its comm or its failure.
void run_worker(std::unique_ptr<Comm>& out, std::string& error, std::atomic<bool>& done,
                const std::function<std::unique_ptr<Comm>()>& body) {
  try {
    out = body();
  } catch (const std::exception& e) {
    error = e.what();
  }
  done.store(true, std::memory_order_release);
}

}  // namespace

Handshake::~Handshake() {
  cancel_ = true;
  if (worker_.joinable()) worker_.join();
  if (comm_) {
    NetDevice& dev = comm_->device();
    NetDevice::Lock lock(dev);
    comm_.reset();
  }
}

std::unique_ptr<Handshake> start_connect(NetDevice& dev, const ListenHandle& h, std::chrono::milliseconds timeout) {
  auto hs = std::make_unique<Handshake>();
  Handshake* raw = hs.get();
  hs->worker_ = std::thread([raw, &dev, h, timeout] {
    run_worker(raw->comm_, raw->error_, raw->done_, [&] {
      sidechannel::TcpChannel ch = sidechannel::TcpChannel::connect(h.tcp.ip_string(), h.tcp.port, timeout);
      return establish(dev, std::move(ch), Role::sender, h.nonce, timeout);
    });
  });
  return hs;
}

ListenComm::ListenComm(NetDevice& dev, std::chrono::milliseconds timeout)
    : dev_(dev), timeout_(timeout), listener_(dev.iface().ip.ip_string(), 0) {
  handle_.tcp = dev.iface().ip.with_port(listener_.port());
  handle_.nonce = random_u32();
  handle_.device = static_cast<uint8_t>(dev.index());
}

ListenComm::~ListenComm() { pending_.reset(); }

std::unique_ptr<Comm> ListenComm::poll_accept() {
  if (!pending_) {
    pending_ = std::make_unique<Handshake>();
    Handshake* raw = pending_.get();
    raw->worker_ = std::thread([this, raw] {
      run_worker(raw->comm_, raw->error_, raw->done_, [&]() -> std::unique_ptr<Comm> {
        // The peer may come much later (NCCL accepts before the other rank connects): wait in slices
        // so closeListen can stop the wait.
        while (!listener_.pending(std::chrono::milliseconds(100)))
          if (raw->cancel_.load()) return nullptr;
        sidechannel::TcpChannel ch = listener_.accept(timeout_);
        return establish(dev_, std::move(ch), Role::receiver, handle_.nonce, timeout_);
      });
    });
  }
  if (!pending_->done()) return nullptr;
  std::unique_ptr<Handshake> h = std::move(pending_);
  h->worker_.join();
  std::unique_ptr<Comm> c = h->take();
  if (!c) throw std::runtime_error(h->error().empty() ? "accept was cancelled" : h->error());
  return c;
}

}  // namespace rfab::ncclnet
