// The queue pairs of one side of an `rfab perf` test, on a device of the endpoint layer: rfab's RC engine
// over kernel UDP (the default) or, with --verbs, an RDMA device through libibverbs. Both side-channel
// dialects (rfab's own, perf_session.cpp; perftest's, perftest_session.cpp) open them here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "perf_options.hpp"
#include "rfab/endpoint/connect.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::cli::perf {

struct QpSizes {
  uint32_t qps = 1, send_depth = 1, recv_depth = 1;
  uint32_t max_outstanding = 0;  // engine: unacknowledged packets per QP (0 = engine default)
};

struct PerfQps {
  std::unique_ptr<endpoint::Device> dev;
  endpoint::MemoryKey mr;       // the test's one buffer
  std::vector<uint32_t> qpn;    // QP i's number
  std::vector<uint32_t> psn;    // QP i's first PSN
  std::string cc = "none";      // every QP's congestion control (QpConfig::cc)
  double line_bps = 100e9;
  Nanos reorder_time = 0;       // QpConfig::reorder_time (0 = the engine's default)
};

// Checks the options this side reads before it listens or connects (--faults, --local), so a bad flag
// fails at once instead of after a peer arrived. Throws ExitError{2} naming the flag.
void check_local_options(const Options& o);

// Opens the device (`local_ip`: this side's RoCE address for the engine; `ipv4_id_window`: the IPv4 IDs
// the engine's ICRC check accepts). Throws ExitError{2} naming what failed.
PerfQps open_perf_device(const Options& o, const std::string& local_ip, unsigned ipv4_id_window);
// Registers [buf, buf+len) with `access` and creates the QPs in INIT (the peer may do what `access` allows).
// Throws ExitError{2} naming what failed.
void create_perf_qps(PerfQps& q, uint8_t* buf, size_t len, uint32_t access, const QpSizes& sizes);

// What is wrong with the RoCE address a peer announced in its key message (GID) for a device whose own
// address is `local`: "" when it is a unicast address of the same IP version. A server checks this before it
// connects a QP, so a hostile key message is refused like any bad client value.
std::string peer_address_problem(const udp::Address& peer, const udp::Address& local);

// QP i to RTS towards the peer. Throws ExitError{2}.
void connect_perf_qp(PerfQps& q, uint32_t i, const endpoint::ConnectParams& params);

// This side's packet and protocol counters into a result.
void fill_counters(const PerfQps& q, Result& r);

}  // namespace rfab::cli::perf
