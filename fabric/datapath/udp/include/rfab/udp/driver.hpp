// Runs RC queue pairs (rfab::rc, sans-IO) over kernel UDP sockets. The driver owns the sockets, the clock
// (CLOCK_MONOTONIC) and pacing; the QPs own the protocol.
//
//   receive : one socket bound to the local RoCE port (4791) takes every packet for every attached QP;
//             each datagram's ICRC is checked (wire_icrc.hpp), then it goes to the QP named by the BTH
//             destination QPN (QP 1, the GSI, to DriverConfig::gsi when set).
//   transmit: QPs are polled round-robin, each only when its pacing time (next_send_time, from its
//             congestion controller's rate) has come; a packet leaves on the socket bound to the UDP
//             source port the QP chose (its ECMP entropy: one socket per port), batched into UDP GSO
//             sends and sendmmsg calls, with the ICRC computed for the IP ID each segment will carry.
//   timers  : handle_timeout at each QP's next_deadline.
//   waiting : epoll on the receive socket until the next packet, timer or pacing slot (ns resolution).
// Single-threaded: call everything (attach, progress, the QPs' post_* and their CQs) from one thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "rfab/base/time.hpp"
#include "rfab/fault/fault_config.hpp"
#include "rfab/rc/qp.hpp"
#include "rfab/udp/address.hpp"
#include "rfab/udp/rx_batch.hpp"
#include "rfab/udp/socket.hpp"
#include "rfab/udp/tx_batch.hpp"
#include "rfab/udp/wire_icrc.hpp"

namespace rfab::fault {
class FaultInjector;
}

namespace rfab::udp {

struct DriverConfig {
  Address local;                       // local IP and RoCE UDP port peers send to (default port 4791)
  SocketOptions socket;
  bool gso = true;                     // UDP GSO on transmit
  bool gather = true;                  // send payloads straight from registered memory (iovec, no copy)
  bool verify_icrc = true;             // drop received packets whose ICRC does not match
  unsigned ipv4_id_window = kAnyIpv4Id;  // IPv4 IDs the ICRC check accepts (wire_icrc.hpp)
  std::optional<fault::FaultConfig> rx_faults;  // seeded faults on the receive path (tests, demos)
  size_t tx_burst = 256;               // packets taken from the QPs between two flushes
  Nanos pacing_slack = 50'000;         // a packet may leave this early relative to its pacing slot
  // Packets for QP 1 (the GSI, where IB CM MADs arrive), handed over after their ICRC check; called on the
  // driver's thread from progress(). Without it they are dropped as rx_unknown_qp.
  std::function<void(const Address& src, std::span<const uint8_t> udp_payload)> gsi;
};

struct DriverStats {
  uint64_t tx_packets = 0, tx_bytes = 0, tx_syscalls = 0, tx_dropped = 0;
  uint64_t rx_packets = 0, rx_bytes = 0, rx_syscalls = 0;
  uint64_t rx_bad_icrc = 0;    // dropped: ICRC mismatch
  uint64_t rx_unknown_qp = 0;  // dropped: no attached QP with that number
  uint64_t rx_malformed = 0;   // dropped: shorter than a BTH + ICRC
  uint64_t ports_remapped = 0; // entropy ports already in use, replaced by a free neighbour
  uint64_t entropy_sockets = 0; // sockets bound for source ports (one per entropy in use)
};

class UdpDriver {
 public:
  // Binds the receive socket; throws UdpError ("UDP port 4791 on 10.0.0.1 is in use", ...).
  explicit UdpDriver(const DriverConfig& cfg);
  ~UdpDriver();
  UdpDriver(const UdpDriver&) = delete;
  UdpDriver& operator=(const UdpDriver&) = delete;

  // Attach a QP (not owned; must stay alive until detached). Its packets go to `peer` (IP + RoCE port).
  void attach(rc::QueuePair& qp, const Address& peer);
  void detach(uint32_t qp_num);

  // Does the work that is ready: receive, expired timers, paced transmit. If nothing was ready, waits up
  // to `max_wait` ns for a packet, timer or pacing slot. Returns true when something was done.
  bool progress(Nanos max_wait);

  // Ends a progress() wait early, or makes the next one return at once. The only call that is safe from
  // another thread (e.g. an application thread handing work to the thread that owns the driver).
  void wake();

  Nanos now() const;
  const Address& local() const { return rx_sock_.local(); }
  const DriverStats& stats() const;

 private:
  struct Attached {
    rc::QueuePair* qp;
    Address peer;
  };
  struct Entropy {
    UdpSocket sock;
    std::unique_ptr<TxBatch> batch;
  };
  Entropy& entropy(uint16_t port);
  size_t receive(Nanos now);
  void deliver(Nanos now, const Address& src, std::span<const uint8_t> data, bool ce);
  size_t transmit(Nanos now, Nanos& wake);
  void flush_all();

  DriverConfig cfg_;
  UdpSocket rx_sock_;
  RxBatch rx_;
  IcrcVerifier verifier_;
  static constexpr uint64_t kWakeEvent = 1;  // epoll data of wake_fd_ (the receive socket's is 0)
  int epoll_fd_ = -1;
  int wake_fd_ = -1;  // eventfd written by wake()
  std::vector<Attached> qps_;
  std::unordered_map<uint32_t, size_t> by_qpn_;
  std::map<uint16_t, Entropy> entropy_;   // requested source port -> socket actually bound
  std::vector<std::vector<uint8_t>> pool_;  // tx_burst packet buffers, free again after each flush
  std::vector<RxDatagram> rx_scratch_;
  std::unique_ptr<fault::FaultInjector> faults_;
  std::vector<Address> fault_srcs_;        // source addresses of packets parked in the injector
  size_t rr_ = 0;
  mutable DriverStats stats_;
};

}  // namespace rfab::udp
