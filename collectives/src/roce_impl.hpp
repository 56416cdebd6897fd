// Internals of the RoCE transport shared by its setup/pair code (roce_transport.cpp) and its datapath
// thread (roce_datapath.cpp). Fields are grouped by which thread writes them; the application thread and
// the datapath thread share only the atomics.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "rfab/collectives/doorbell.hpp"
#include "rfab/collectives/roce_transport.hpp"
#include "rfab/endpoint/device.hpp"
#include "roce_device.hpp"
#include "roce_landing.hpp"

namespace rfab::coll {

struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};
using RingMemory = std::unique_ptr<std::byte, AlignedFree>;

enum PeerState : int { kPeerLive = 0, kPeerAborted = 1, kPeerClosed = 2, kPeerFailed = 3 };

struct RocePeer;

// The application side of one peer: copies into staging, reads the receive ring in place.
class RocePair final : public Pair {
 public:
  RocePair(RoceTransport::Impl& t, RocePeer& p) : t_(t), p_(p) {}
  void begin_send() override;
  void begin_recv() override;
  size_t try_send(const std::byte* src, size_t n, size_t granule) override;
  std::span<const std::byte> readable() override;
  void consume(size_t n) override;
  size_t buffered() override;
  bool can_send_ref(size_t bytes) const override;
  size_t try_send_ref(const std::byte* src, size_t n, size_t granule, uint64_t* pos) override;
  uint64_t sent_through() override;
  void abandon_refs() override;
  void plan_recvs(std::span<const RecvPlan> plan) override;
  size_t landing_min() const override;
  void abandon_landings() override;

 private:
  size_t send_window(size_t n, size_t granule) const;
  void stop_qp(const char* why);
  void skip_consumed_landings();
  template <class Fn>
  void with_device(Fn&& fn);

  RoceTransport::Impl& t_;
  RocePeer& p_;
  uint64_t tail_ = 0;     // stream bytes produced, staged or by reference (mirrors app_tail)
  uint64_t written_ = 0;  // end of the last data produced: [written_, tail_) is alignment padding
  uint64_t refs_ = 0;     // spans published (mirrors ref_tail)
  uint64_t ref_end_ = 0;  // end of the last span sent by reference
  uint64_t head_ = 0;     // bytes consumed from the ring (mirrors app_head)
  uint64_t land_req_ = 0;  // landings requested (mirrors land_tail)
  uint64_t land_cur_ = 0;  // first landing not wholly consumed
  bool qp_stopped_ = false;
};

// One landing this rank asked its peer for: the stream range [begin, end) written to dst.
enum LandMode : int { kLandUndecided = 0, kLandLanded = 1, kLandRing = 2 };
struct LandingIn {
  uint64_t begin = 0, end = 0;
  std::byte* dst = nullptr;
  // Where the message's bytes are, known from the first write that reaches into it (stored by the
  // datapath before rx_tail covers that write).
  std::atomic<int> mode{kLandUndecided};
  // Datapath thread only.
  endpoint::MemoryKey key{};
  bool registered = false;
  bool desc_in_flight = false;  // the descriptor's SEND has not completed (it may be resent from land_desc)
};

// A stream range the datapath sends from the application's memory instead of staging. Bytes in
// [skip_from, begin) are alignment padding between messages: nothing to send.
struct RefSpan {
  uint64_t skip_from = 0, begin = 0, end = 0;
  const std::byte* src = nullptr;
};

struct RocePeer {
  int rank = -1;
  std::string host;
  udp::Address addr;   // its RoCE socket
  size_t cap = 0;
  RingMemory staging, ring;
  endpoint::MemoryKey staging_mr, ring_mr;
  uint32_t qpn = 0;    // our QP towards this peer
  uint32_t psn = 0;
  uint64_t remote_va = 0;
  uint32_t remote_rkey = 0;
  std::unique_ptr<RocePair> pair;

  // Application thread -> datapath thread.
  alignas(64) std::atomic<uint64_t> app_tail{0};  // staging filled up to here
  alignas(64) std::atomic<uint64_t> app_head{0};  // ring consumed up to here
  // Spans sent by reference, a single-producer single-consumer queue: the application fills slot
  // ref_tail % kRefSlots and then publishes ref_tail (before app_tail covers the span); the slot is free
  // again once the datapath has posted the whole span (ref_posted).
  static constexpr size_t kRefSlots = 64;
  std::array<RefSpan, kRefSlots> refs{};
  alignas(64) std::atomic<uint64_t> ref_tail{0};
  // Datapath thread -> application thread.
  alignas(64) std::atomic<uint64_t> release{0};   // staging reusable below this (credit and write completion)
  alignas(64) std::atomic<uint64_t> rx_tail{0};   // ring filled up to here
  alignas(64) std::atomic<uint64_t> ref_posted{0};  // spans posted completely (their slots are free)
  std::atomic<uint64_t> acked_pub{0};  // writes completed up to here: memory sent by reference is free below
  std::atomic<int> state{kPeerLive};
  std::string error;  // written once by the datapath thread before `state` leaves kPeerLive

  // Landings (roce_landing.hpp). Receiving side: the application fills slot land_tail % kLandSlots and
  // publishes land_tail; the datapath registers the buffer and sends the descriptor, and frees the slot
  // (land_free) once the application has consumed the message and the descriptor's SEND completed.
  static constexpr size_t kLandSlots = 8;
  std::array<LandingIn, kLandSlots> lands{};
  alignas(64) std::atomic<uint64_t> land_tail{0};
  alignas(64) std::atomic<uint64_t> land_free{0};
  std::atomic<uint64_t> landed_bytes{0};
  // Receive WQE buffers (one SEND's payload each: landing descriptors), max_recv_wr of kLandingBytes.
  std::unique_ptr<std::byte[]> ctl_in;
  endpoint::MemoryKey ctl_mr;

  // Datapath thread only.
  uint64_t posted = 0;    // stream posted as writes up to here
  uint64_t ref_head = 0;  // first span not completely posted
  uint64_t acked = 0;     // writes completed up to here
  uint64_t credit = 0;    // the peer consumed up to here
  uint64_t arrived = 0;   // local copy of rx_tail
  uint64_t reported = 0;  // credit we sent up to here
  uint32_t outstanding = 0;  // send WRs posted and not completed
  uint64_t last_post = 0;    // driver time of the last send WR
  uint32_t controls_sent = 0;  // Control bits already sent
  uint64_t recv_posted = 0;    // receive WQEs posted (their buffers are ctl_in slots in turn)
  uint64_t land_handled = 0;   // landings registered and announced (or found too late)
  uint64_t land_decided = 0;   // landings whose mode is stored
  uint64_t land_retired = 0;   // mirrors land_free
  std::array<std::byte, kLandSlots * roce::kLandingBytes> land_desc{};  // descriptors being sent
  roce::LandingRoutes routes;  // sending side: the peer's landings, where our writes go
};

struct RoceTransport::Impl {
  int rank = 0, nranks = 0;
  std::string host;
  RoceOptions opt;
  Doorbell* bell = nullptr;
  RoceEndpoint local;
  uint8_t ack_timeout = 16;      // IBTA code, from RFAB_TIMEOUT
  uint64_t keepalive_ns = 0;     // idle QPs send a zero-length write this often
  size_t max_write = 0;          // bytes per RDMA WRITE work request
  uint32_t any_lkey = 0;         // the device's any_memory_lkey(); 0: no sending by reference
  uint32_t max_send_wr = 512, max_recv_wr = 1024;
  size_t landing_min = SIZE_MAX;  // smallest message received in place (SIZE_MAX: never)

  std::vector<std::unique_ptr<RocePeer>> peers;  // indexed by rank; null for ranks not on RoCE
  // QPs, CQs and memory registrations (rfab's RC engine over UDP, or an RDMA device through verbs).
  // Declared after `peers` so it is destroyed first: registrations end before the rings they cover are
  // freed.
  std::unique_ptr<endpoint::Device> net;
  std::unordered_map<uint32_t, int> rank_of_qpn;  // completions name the QP; the datapath needs the peer

  // The device, the QPs and the "datapath thread only" fields of RocePeer belong to whoever holds
  // dp_mu: the datapath thread, or the application thread progressing inline while it waits in a
  // collective (RoceTransport::progress), which saves the wake-ups of handing each packet over.
  std::mutex dp_mu;
  // 1 while the application thread progresses inline: the datapath thread then parks on this futex
  // word instead of competing for dp_mu (and for the CPU).
  std::atomic<uint32_t> app_driving{0};
  std::atomic<bool> dp_parked{false};
  bool app_drives = false;  // application thread only: it set app_driving
  std::atomic<bool> broken{false};  // the device threw: nobody progresses any more

  // The datapath thread sleeps in net->progress; net->wake() ends that sleep.
  std::atomic<bool> dp_sleeping{false};
  std::atomic<uint32_t> control_req{0};  // Control bits the application asked to send to every peer
  std::atomic<bool> stop{false};
  std::atomic<bool> drained{false};  // every peer: all staging posted and completed, close sent (or failed)
  std::thread thread;
  std::atomic<uint64_t> n_writes{0}, n_credits{0}, n_keepalives{0}, n_landings{0};

  void kick();       // wake the datapath thread if it sleeps
  void run();        // datapath thread body (roce_datapath.cpp)
  bool pass(uint64_t now);  // one round of service, packets and completions; dp_mu held
  void park();              // datapath thread: wait while the application progresses inline
  void unpark();            // application thread, after clearing app_driving: end a park now
  void device_failed(const std::exception& e);
  bool service(uint64_t now);
  bool poll_completions();
  bool pending() const;
  void fail(RocePeer& p, const std::string& why);
  void post_recv(RocePeer& p);
  bool post_imm(RocePeer& p, uint32_t imm, uint64_t wr_id);
  bool serve_landings(RocePeer& p, uint64_t head);  // announce new landings, retire consumed ones
  void decide_landings(RocePeer& p, uint64_t arrived, bool landed);
  void take_landing(RocePeer& p, const rc::WorkCompletion& wc);
  void drop_landings(RocePeer& p);  // the call failed: deregister every live landing
  std::string who(const RocePeer& p) const;
};

// Work request ids: kind in the top bits, the stream offset a data write ends at in the rest.
enum WrKind : uint64_t { kWrData = 0, kWrCredit = 1, kWrControl = 2, kWrKeepalive = 3, kWrLanding = 4 };
inline constexpr uint64_t make_wr_id(WrKind k, uint64_t v) { return (static_cast<uint64_t>(k) << 60) | v; }
inline constexpr WrKind wr_kind(uint64_t id) { return static_cast<WrKind>(id >> 60); }
inline constexpr uint64_t wr_value(uint64_t id) { return id & ((uint64_t{1} << 60) - 1); }

}  // namespace rfab::coll
