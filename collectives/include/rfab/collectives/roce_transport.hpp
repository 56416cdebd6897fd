// RoCE transport between ranks on different hosts: one RC queue pair per remote peer, all on one device of
// the endpoint layer (fabric/endpoint): rfab's RC engine over kernel UDP, or an RDMA device through
// libibverbs (src/roce_device.hpp chooses).
//
// Data path, per direction of a pair:
//   sender   : try_send copies into a registered staging ring that mirrors the receiver's ring byte for byte
//              (offset p of the stream lives at p mod cap in both); the datapath thread posts RDMA WRITE WITH
//              IMMEDIATE from staging into the peer's ring, the immediate carrying the stream offset where
//              the write ends.
//   receiver : the receive completion advances readable() and rings the rank's Doorbell (so the Exchange
//              engine wakes exactly as it does for shared memory); consume() publishes the new head and the
//              datapath thread returns it to the sender as a zero-length WRITE WITH IMMEDIATE (credit).
//   staging space is free again once the receiver returned credit for it AND our write completed (the RC
//   engine re-reads staging when it retransmits).
//
// Threads: the UdpDriver and the QPs are single-threaded, so one datapath thread per communicator owns them
// (and the PD, MRs, CQs). The application thread and the datapath thread share only atomics (stream
// offsets, peer state); see docs/collectives.md for why a thread rather than inline progress.
//
// Failure: a peer that dies or a link that is cut stops ACKing; our RC retry budget (retry_exc_err) turns
// that into a peer failure. Idle QPs send keep-alive zero-length WRITEs so that a rank that only waits to
// receive notices too. The ACK timeout is derived from RFAB_TIMEOUT so detection fits well inside it.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rfab/collectives/transport.hpp"

namespace rfab::coll {

struct RoceOptions {
  std::string local_ip;          // the address this rank's RoCE socket binds (numeric IPv4 or IPv6)
  uint16_t port = 0;             // local RoCE UDP port (0: the kernel picks a free one)
  size_t ring_bytes = size_t{4} << 20;  // receive ring per peer (power of two); staging ring the same
  uint32_t mtu = 4096;           // RoCE path MTU wanted (the pair uses the smaller of both ends)
  std::chrono::milliseconds timeout{30000};  // RFAB_TIMEOUT: failure detection must fit inside it
  size_t write_bytes = size_t{256} << 10;  // largest RDMA WRITE (RFAB_ROCE_WRITE_BYTES); also <= ring/8
  uint64_t spin_ns = 0;  // datapath polls this long before sleeping (RFAB_ROCE_SPIN_US; 0 suits ranks whose
                         // threads outnumber the cores: a spinning thread takes the core its peer needs)
  bool verify_icrc = true;                 // check received ICRCs (RFAB_ROCE_VERIFY_ICRC=0 trusts the UDP checksum)
  // Messages of at least this many bytes are sent straight from the caller's buffer where the device
  // can (udp; RFAB_ROCE_ZERO_COPY_MIN, "off" never): a copy into staging saved, paid for by waiting for
  // the peer's acknowledgement before the call returns.
  size_t zero_copy_min = size_t{64} << 10;
  // Receives of at least this many bytes into the caller's buffer are written there by the peer (udp;
  // RFAB_ROCE_LANDING_MIN, "off" never): the copy out of the receive ring saved, paid for by one
  // descriptor per message and its memory registration.
  size_t landing_min = size_t{256} << 10;
  // Faults injected on this rank's receive path (RFAB_ROCE_FAULTS, udp only, for tests: a fault spec such
  // as "drop=1%,reorder=1%,seed=3"; see fabric/fault).
  std::string rx_faults;
  // A rank waiting in a collective moves its RoCE packets itself while it spins, and the datapath thread
  // stays parked until it stops (RFAB_ROCE_INLINE=0: every packet goes through the datapath thread).
  bool inline_progress = true;
  // Who moves the packets (RFAB_TRANSPORT): "udp" (rfab's RC engine over kernel UDP sockets), "verbs" (an
  // RDMA device through libibverbs), "auto" (verbs when a device with an active RoCE v2 port is present).
  // Both speak the same protocol, so ranks may differ.
  std::string transport = "auto";
  std::string device;  // RDMA device for verbs (RFAB_ROCE_DEVICE; implies verbs); empty: chosen automatically
  // The packet datapath of rfab's engine (RFAB_DATAPATH): "udp" (kernel sockets), "afxdp" (AF_XDP sockets on
  // `iface`, else the interface holding local_ip) or "dpdk" (EAL arguments from RFAB_DPDK_ARGS). All three
  // are wire-identical, so ranks may differ. afxdp/dpdk take the whole port: one rank per interface.
  std::string datapath = "udp";
  std::string iface;      // RFAB_ROCE_IFACE
  std::string dpdk_args;  // RFAB_DPDK_ARGS
  // rfab's engine only (a verbs device's NIC does its own): the QPs' congestion control (RFAB_ROCE_CC), the
  // rate it starts from (RFAB_ROCE_LINE_RATE), spraying over several entropies (RFAB_ROCE_SPRAY) and loss
  // recovery (RFAB_ROCE_RECOVERY). Spraying and selective recovery need an engine at both ends.
  std::string cc = "none";
  double line_bps = 100e9;
  uint32_t spray = 1;
  bool adaptive = false;  // RFAB_ROCE_ADAPTIVE: steer the spray away from ports that show congestion or loss
  bool selective = true;

  // From RFAB_ROCE_ADDR / RFAB_ROCE_IFACE (else `fallback_ip`, the address our store connection uses),
  // RFAB_ROCE_PORT (base; local_index is added so ranks sharing an IP differ), RFAB_ROCE_RING_BYTES,
  // RFAB_ROCE_MTU (else the largest that fits the interface's MTU), RFAB_ROCE_WRITE_BYTES,
  // RFAB_ROCE_SPIN_US, RFAB_ROCE_VERIFY_ICRC, RFAB_ROCE_ZERO_COPY_MIN, RFAB_ROCE_FAULTS, RFAB_ROCE_INLINE,
  // RFAB_TRANSPORT, RFAB_ROCE_DEVICE. Throws Error(InvalidArgument) naming
  // the variable for a malformed value.
  static RoceOptions from_env(const std::string& fallback_ip, int local_index, std::chrono::milliseconds timeout);
};

// What a rank publishes about itself through the store, and what it needs to connect to each peer.
struct RoceEndpoint {
  int rank = -1;
  std::string host;   // logical host name, for messages (not encoded: the communicator knows it)
  std::string ip;
  uint16_t port = 0;
  uint32_t mtu = 0;
  uint64_t ring_bytes = 0;
  bool selective = false;  // this rank runs rfab's engine with selective recovery: pairs of two such spray and
                           // recover selectively (absent from the older "roce1" record: false)
  struct Qp {         // this rank's QP towards one peer
    int peer = -1;
    uint32_t qpn = 0, psn = 0;
    uint64_t ring_va = 0;  // our receive ring for that peer
    uint32_t rkey = 0;
  };
  std::vector<Qp> qps;

  std::string encode() const;
  // Throws Error(Internal) naming the field when `text` is malformed.
  static RoceEndpoint decode(const std::string& text);
  const Qp* qp_to(int peer) const;
};

class RoceTransport final : public Transport {
 public:
  // Binds the RoCE socket and creates a QP and rings for every rank in `peers` (not yet connected).
  RoceTransport(int rank, int nranks, std::string host, const std::vector<int>& peers, const RoceOptions& opt,
                Doorbell& bell);
  ~RoceTransport() override;  // drains our sends (bounded by the timeout), tells peers we left, stops the thread
  RoceTransport(const RoceTransport&) = delete;
  RoceTransport& operator=(const RoceTransport&) = delete;

  // What to publish through the store.
  const RoceEndpoint& local() const;
  bool inline_progress() const;  // RoceOptions::inline_progress
  // Connects the QPs to the peers' endpoints (every peer given to the constructor) and starts the
  // datapath thread. Throws naming the peer when its endpoint does not fit (ring size, missing QP).
  void connect(const std::vector<RoceEndpoint>& remotes);

  std::string_view name() const override { return "roce"; }
  Pair* pair(int peer) override;
  void check_peers(std::span<const PeerNeed> needs) override;
  void announce_abort() override;
  bool progress() override;
  void stop_progress(bool will_sleep) override;

  struct Stats {
    uint64_t writes = 0, credits = 0, keepalives = 0, rx_packets = 0, tx_packets = 0, retransmits = 0;
    uint64_t landings = 0, landed_bytes = 0;  // receives announced for in-place writing; bytes written so
  };
  Stats stats() const;  // approximate (read while the datapath runs)

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rfab::coll
