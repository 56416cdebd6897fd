// The plugin's objects NCCL holds as opaque pointers: memory handles, requests, send and receive comms
// (one RC QP each, set up by setup.hpp). protocol.hpp describes what they say to each other.
//
// Failure. A comm fails for good when a work request completes in error (a dead or unreachable peer
// exhausts the QP's retries), when the peer's side-channel TCP connection closes (its process is gone;
// checked every kLivenessCheck while a call waits for the peer), or on a protocol violation. Every later
// isend/irecv/test on it returns ncclRemoteError (ncclSystemError for local failures) and logs why once.
#pragma once
#include <array>
#include <cstdint>
#include <string>

#include "net_device.hpp"
#include "nccl_net_v8.h"
#include "protocol.hpp"
#include "rfab/sidechannel/tcp_channel.hpp"

namespace rfab::ncclnet {

struct MemHandle {
  static constexpr uint64_t kMagic = 0x52464E434D454D48ull;  // "RFNCMEMH"
  uint64_t magic = kMagic;
  NetDevice* dev = nullptr;
  uintptr_t addr = 0;
  size_t len = 0;
  endpoint::MemoryKey key;
  // True when [p, p+n) lies inside the region.
  bool covers(const void* p, size_t n) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    return a >= addr && n <= len && a - addr <= len - n;
  }
};

class Comm;

struct Request {
  static constexpr uint32_t kMagic = 0x52464E52;  // "RFNR"
  uint32_t magic = 0;  // kMagic while in use
  Comm* comm = nullptr;
  bool is_send = false;
  int n = 0;             // receive: elements; send: 1
  int completed = 0;     // elements whose data has landed (receive) or been acknowledged (send)
  uint32_t seq = 0;      // receive: the irecv's sequence number
  uint32_t landed = 0;   // receive: bit per element whose write has arrived
  int sizes[kMaxRecvs] = {};
  // send: the payload, until the whole descriptor is matched and the write is posted
  uint64_t addr = 0;
  uint32_t lkey = 0;
};

class Comm : public CompletionSink {
 public:
  static constexpr uint64_t kSendMagic = 0x52464E4353454E44ull;  // "RFNCSEND"
  static constexpr uint64_t kRecvMagic = 0x52464E4352454356ull;  // "RFNCRECV"
  uint64_t magic = 0;  // which kind, while alive: lets the entry points refuse a wrong pointer
  Comm(NetDevice& dev, uint32_t qpn, ControlSlice control);
  ~Comm() override;  // under a device Lock: detaches, moves the QP to ERR, gives the control memory back
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  NetDevice& device() { return dev_; }
  uint32_t qpn() const { return qpn_; }
  // The side channel to the peer, once set-up has connected it; kept open to notice the peer's end.
  void set_channel(sidechannel::TcpChannel channel);
  // test() for a request of this comm; frees the request when it reports done.
  ncclResult_t test(Request* r, int* done, int* sizes);

 protected:
  // The comm's sticky failure, logged once; ncclSuccess while healthy. Needs a Lock.
  ncclResult_t failure();
  void fail(ncclResult_t code, const std::string& why);
  // While waiting for the peer: a closed side channel means the peer is gone. Needs a Lock.
  ncclResult_t check_peer();
  Request* new_request(bool is_send, int n);
  void free_request(Request* r);
  Request* request_at(uint64_t index);
  uint64_t index_of(const Request* r) const { return static_cast<uint64_t>(r - pool_.data()); }
  void fail_on_error(const rc::WorkCompletion& wc, const char* what);
  // A request test() reported done leaves the comm's books.
  virtual void retire(Request*) {}

  NetDevice& dev_;
  const uint32_t qpn_;
  sidechannel::TcpChannel channel_;
  ControlSlice control_;
  std::string peer_;

 private:
  ncclResult_t error_code_ = ncclSuccess;
  std::string error_;
  bool error_logged_ = false;
  Nanos next_liveness_check_ = 0;
  std::array<Request, kSlots * kMaxRecvs> pool_{};
  int free_hint_ = 0;
};

class SendComm final : public Comm {
 public:
  // Posts the descriptor FIFO's receive WRs (the QP must be at least in INIT). Needs a Lock.
  SendComm(NetDevice& dev, uint32_t qpn, ControlSlice control);
  ncclResult_t isend(void* data, int size, int tag, const MemHandle& mh, void** request);
  void on_send_completion(const rc::WorkCompletion& wc) override;
  void on_recv_completion(const rc::WorkCompletion& wc) override;

 private:
  Descriptor* fifo() { return static_cast<Descriptor*>(control_.addr); }
  // Receive WRs are consumed in the order they were posted: slots 0..kSlots-1 first, each reposted when
  // its descriptor has been used, so descriptor `seq` (from 1) lands in slot (seq - 1) % kSlots.
  static uint32_t fifo_slot(uint32_t seq) { return (seq - 1) % kSlots; }
  void post_fifo_recv(uint32_t slot);
  void post_payloads(uint32_t slot);

  uint32_t head_ = 1;            // sequence number of the descriptor isend consumes next
  uint32_t arrived_ = 0;         // descriptors received so far (the last sequence number seen)
  std::array<std::array<Request*, kMaxRecvs>, kSlots> matched_{};
};

class RecvComm final : public Comm {
 public:
  RecvComm(NetDevice& dev, uint32_t qpn, ControlSlice control);
  ncclResult_t irecv(int n, void** data, const int* sizes, const int* tags, MemHandle* const* mh, void** request);
  void on_send_completion(const rc::WorkCompletion& wc) override;
  void on_recv_completion(const rc::WorkCompletion& wc) override;

 private:
  void retire(Request* r) override;
  Descriptor* staging() { return static_cast<Descriptor*>(control_.addr); }

  uint32_t next_seq_ = 1;
  int outstanding_ = 0;
  std::array<Request*, kSlots> by_slot_{};
};

// Bytes of registered control memory a comm needs (the sender's FIFO, the receiver's staging).
inline constexpr size_t kControlBytes = sizeof(Descriptor) * kSlots;

}  // namespace rfab::ncclnet
