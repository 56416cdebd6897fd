// The queue pairs `rfab perf --perftest` drives, behind one small interface so the same session runs over
// rfab's own RC engine on kernel UDP sockets (perf_backend_udp.cpp) or over an RDMA device through
// libibverbs (perf_backend_verbs.cpp: an RNIC or Linux rxe, where the device is the protocol engine).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "perf_options.hpp"
#include "rfab/base/time.hpp"
#include "rfab/rc/types.hpp"

namespace rfab::udp {
struct DriverStats;
}
namespace rfab::rc {
class QueuePair;
}

namespace rfab::cli::perf {

// The packet counters of rfab's own stack (UDP driver + RC QPs) into a result; shared by the plain and
// --perftest sessions.
void fill_udp_counters(const udp::DriverStats& s, const std::vector<std::unique_ptr<rc::QueuePair>>& qps, Result& r);


struct BackendQpSizes {
  uint32_t qps = 1, send_depth = 1, recv_depth = 1;
  uint32_t out_reads = 16;  // READs this side's responder takes in flight (announced to the peer)
};

// What connect() needs of the peer's key message.
struct PeerQp {
  uint32_t qpn = 0, psn = 0;
  uint32_t out_reads = 1;  // the peer's responder resources: our READs in flight stay below
  std::array<uint8_t, 16> gid{};
};

class PerfBackend {
 public:
  virtual ~PerfBackend() = default;
  // Registers [buf, buf+len) (remote write and read) and creates the QPs. Throws ExitError{2} on failure.
  virtual void create(uint8_t* buf, size_t len, const BackendQpSizes& sizes) = 0;
  virtual std::array<uint8_t, 16> gid() const = 0;  // this side's RoCE address as a GID
  virtual uint32_t max_mtu(uint32_t wanted) const = 0; // the path MTU this side can offer
  virtual uint32_t lkey() const = 0;
  virtual uint32_t rkey() const = 0;
  virtual uint32_t qp_num(uint32_t q) const = 0;
  virtual uint32_t first_psn(uint32_t q) const = 0;
  // RESET/INIT -> RTR -> RTS towards the peer with the agreed path MTU. Throws ExitError{2}.
  virtual void connect(uint32_t q, const PeerQp& peer, uint32_t mtu) = 0;
  virtual rc::Status post_send(uint32_t q, const rc::SendWr& wr) = 0;
  virtual rc::Status post_recv(uint32_t q, const rc::RecvWr& wr) = 0;
  virtual size_t poll_send(std::span<rc::WorkCompletion> out) = 0;
  virtual size_t poll_recv(std::span<rc::WorkCompletion> out) = 0;
  // Moves packets and timers (UDP); waits up to max_wait when idle. True when something was done.
  virtual bool progress(Nanos max_wait) = 0;
  virtual Nanos now() const = 0;
  // Grows while the peer's packets arrive; nullopt-like 0 forever when the backend cannot see them (verbs).
  virtual uint64_t rx_packets() const = 0;
  virtual bool sees_packets() const = 0;
  virtual void fill_counters(Result& r) const = 0;
  virtual std::string name() const = 0;  // "kernel UDP datapath", "verbs rxe0"
};

// `local_ip` is this side's RoCE address (the side channel's local address unless --local).
std::unique_ptr<PerfBackend> make_udp_backend(const Options& o, const std::string& local_ip);
// Throws ExitError{2} when rfab was built without libibverbs or no usable device/port/GID is found.
std::unique_ptr<PerfBackend> make_verbs_backend(const Options& o);

}  // namespace rfab::cli::perf
