// `rfab perf`: options, the handshake both sides agree on, and results.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "rfab/rc/types.hpp"

namespace rfab::cli::perf {

enum class Verb : uint8_t { write, read, send, atomic };
const char* to_string(Verb v);

struct Options {
  Verb verb = Verb::write;
  bool server = false;
  std::string host;            // client: the server's address (TCP side channel and RoCE)
  std::string local;           // local RoCE address; default: the TCP connection's local address
  uint64_t size = 65536;       // message size in bytes (atomics: always 8)
  uint64_t iters = 1000;       // per QP; ignored when duration > 0
  double duration = 0;         // seconds; 0 = run `iters`
  uint32_t qps = 1;
  uint32_t mtu = 4096;
  uint32_t spray = 1;          // entropies (UDP source ports) per QP; > 1 sprays packets over them
  bool adaptive = false;       // client: steer the spray away from ports that show congestion, loss or delay
  uint32_t tx_depth = 128;     // outstanding work requests per QP
  uint16_t tcp_port = 18515;   // perftest's default side-channel port
  uint16_t udp_port = 4791;    // RoCE v2
  bool latency = false;        // one operation in flight per QP; report percentiles
  bool json = false;
  bool gso = true;
  bool gather = true;
  int busy_poll_us = 0;        // SO_BUSY_POLL on the datapath sockets
  std::string faults;          // receive-side fault injection spec (rfab::fault), both sides may differ
  std::string cc = "none";     // the requester's congestion control: none | dcqcn[:key=value,...]
  // rfab peers: selective (resend only what was lost) or go-back-n (IBTA); perftest/verbs peers: go-back-n
  rc::LossRecovery recovery = rc::LossRecovery::selective;
  double line_bps = 100e9;     // the rate congestion control starts from and never exceeds
  Nanos reorder_time = 0;      // responder (selective recovery): initial time a hole may stay open before its NAK
  double timeout = 10;         // seconds without progress before giving up (handshake, transfer)
  uint64_t max_memory = 4ull << 30;  // message buffers this side allocates at most (a server: per client)
  uint8_t retry_cnt = 7;
  uint8_t ack_timeout = 16;    // IBTA local ACK timeout code: 4.096 us * 2^n (268 ms: a loaded host is slow)
  bool perftest = false;       // speak perftest's own side-channel protocol (pair with ib_*_bw), see perftest_session.hpp
  bool verbs = false;          // queue pairs on an RDMA device (libibverbs) instead of rfab's engine; implies perftest
  std::string device;          // --verbs: device name ("" = automatic, RFAB_VERBS_DEVICE)
  int gid_index = -1;          // --verbs: GID index (-1 = automatic, RFAB_VERBS_GID_INDEX)
  // Who moves rfab's engine's packets: udp (kernel sockets), afxdp, dpdk; verbs is --verbs.
  std::string datapath = "udp";
  std::string iface;           // afxdp: interface ("" = the one holding the local address)
  std::string xdp_mode = "auto";   // afxdp: auto | native | generic
  std::string copy_mode = "auto";  // afxdp: auto | zero-copy | copy
  int xsk_queue = -1;          // afxdp: one receive queue (-1 = all)
  std::string dpdk_args;       // dpdk: EAL arguments ("" = RFAB_DPDK_ARGS)
  uint16_t dpdk_port = 0;      // dpdk: ethdev port id
};

struct Result {
  Verb verb = Verb::write;
  uint64_t bytes = 0;          // message size
  uint64_t iterations = 0;     // completed operations, all QPs
  uint32_t qps = 0, mtu = 0, spray = 0;
  rc::LossRecovery recovery = rc::LossRecovery::go_back_n;  // what the connection used
  double seconds = 0;
  double bw_peak_gbps = 0, bw_avg_gbps = 0, msg_rate_mpps = 0;
  // latency mode (microseconds)
  double t_min = 0, t_max = 0, t_typical = 0, t_avg = 0, t_stdev = 0, p99 = 0, p999 = 0;
  // datapath counters (this side)
  uint64_t tx_packets = 0, rx_packets = 0, tx_syscalls = 0, rx_syscalls = 0;
  uint64_t retransmits = 0, timeouts = 0, rx_bad_icrc = 0, duplicates = 0, out_of_order = 0;
  // congestion (this side): ECN-CE marks received, CNPs sent and received, what the controllers did
  uint64_t ecn_ce_received = 0, cnps_sent = 0, cnps_received = 0, rate_cuts = 0;
  uint64_t cnps_steered = 0;  // CNPs the adaptive policy answered by moving off the port (no rate cut)
  double rate_gbps = 0, min_rate_gbps = 0;  // sum over QPs now; lowest any QP reached
  double cpu_seconds = 0;      // user + system CPU of this process during the transfer
  bool verified = false;       // data / exactly-once check passed
  std::string verify_note;     // what was checked
  std::string datapath;        // what moved the packets ("" = rfab's engine over kernel UDP)
  std::vector<std::pair<std::string, uint64_t>> datapath_counters;  // the datapath's own (AF_XDP, DPDK)
  bool adaptive = false;       // this side's requesters steered the spray by path feedback
  // Per entropy index (port k of every QP's set), summed over QPs: what this side sent and received on it.
  struct Path {
    uint64_t tx_packets = 0, probes = 0, rx_packets = 0, rx_ecn_ce = 0, cnps = 0, naks = 0, slow_samples = 0,
             set_aside = 0;
    uint32_t avoided_qps = 0;  // QPs that had the port set aside at the end
  };
  std::vector<Path> paths;     // empty unless spraying
};

}  // namespace rfab::cli::perf
