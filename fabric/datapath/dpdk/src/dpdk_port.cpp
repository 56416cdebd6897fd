// FramePort over a DPDK ethdev: one receive and one transmit queue, single-segment mbufs large enough for a
// 4096-byte RoCE MTU, bursts both ways. The port is polled (no file descriptor to sleep on).
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>

#include "rfab/dpdk/dpdk.hpp"
#include "rfab/frame/error.hpp"

namespace rfab::dpdk {
namespace {

constexpr uint16_t kFrameRoom = 4352;  // 4096-byte RoCE MTU + every header, with room to spare
constexpr size_t kBurst = 64;
constexpr size_t kTxQueue = 256;       // frames committed and not yet taken by the device
constexpr unsigned kTxAllocBulk = 32;  // mbufs taken from the pool at a time for tx slots (one pool access)

std::string port_error(uint16_t port, const std::string& step, int rc) {
  return "DPDK port " + std::to_string(port) + ": " + step + ": " + rte_strerror(rc < 0 ? -rc : rc);
}

// net_af_packet moves frames through a TPACKET ring whose slots are `framesz` bytes (2048 unless the vdev
// arguments say otherwise); a slot also holds the TPACKET header and padding, so a frame gets a bit less.
size_t af_packet_frame_room(const std::string& eal_args) {
  size_t framesz = 2048;
  const auto at = eal_args.find("framesz=");
  if (at != std::string::npos) framesz = std::strtoul(eal_args.c_str() + at + 8, nullptr, 10);
  return framesz > 128 ? framesz - 128 : 0;
}

class EthdevPort final : public DpdkPort {
 public:
  explicit EthdevPort(const DpdkConfig& c) : port_(c.port) {
    check_port(c);
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port_, &info); rc != 0) throw frame::FrameError(port_error(port_, "device info", rc));
    driver_ = info.driver_name != nullptr ? info.driver_name : "?";
    pool_ = mbuf_pool("rfab_mbufs_" + std::to_string(port_), c.mbufs);
    // Transmit-only mbufs are never handed to the receive queue, so what a sender wrote into one is still
    // there when the pool hands it out again.
    tx_pool_ = c.tx_only_mbufs > 0 ? mbuf_pool("rfab_tx_mbufs_" + std::to_string(port_), c.tx_only_mbufs) : pool_;
    // A vdev over a kernel interface (af_packet, af_xdp) has that interface's MTU, which its set_mtu would
    // change for everyone: leave it. A NIC of our own gets the largest MTU our mbufs hold.
    kernel_backed_ = driver_ == "net_af_packet" || driver_ == "net_af_xdp";
    rte_eth_conf conf{};
    if (!kernel_backed_)
      conf.rxmode.mtu = std::min<uint32_t>(info.max_mtu, kFrameRoom - 14);
    if (int rc = rte_eth_dev_configure(port_, 1, 1, &conf); rc != 0) throw frame::FrameError(port_error(port_, "configure", rc));
    uint16_t rxd = c.rx_desc, txd = c.tx_desc;
    (void)rte_eth_dev_adjust_nb_rx_tx_desc(port_, &rxd, &txd);
    const int sock = rte_eth_dev_socket_id(port_);
    if (int rc = rte_eth_rx_queue_setup(port_, 0, rxd, sock < 0 ? 0 : static_cast<unsigned>(sock), nullptr, pool_); rc != 0)
      throw frame::FrameError(port_error(port_, "receive queue", rc));
    if (int rc = rte_eth_tx_queue_setup(port_, 0, txd, sock < 0 ? 0 : static_cast<unsigned>(sock), nullptr); rc != 0)
      throw frame::FrameError(port_error(port_, "transmit queue", rc));
    if (int rc = rte_eth_dev_start(port_); rc != 0) throw frame::FrameError(port_error(port_, "start", rc));
    rte_ether_addr a{};
    if (int rc = rte_eth_macaddr_get(port_, &a); rc != 0) throw frame::FrameError(port_error(port_, "MAC address", rc));
    std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), mac_.b.begin());
    max_frame_ = std::min<size_t>(kFrameRoom, info.max_rx_pktlen > 0 ? info.max_rx_pktlen : kFrameRoom);
    if (driver_ == "net_af_packet") max_frame_ = std::min<size_t>(kFrameRoom, af_packet_frame_room(c.eal_args));
    else if (driver_ == "net_af_xdp") max_frame_ = std::min<size_t>(kFrameRoom, 4096 - 256);  // one UMEM page
    if (!kernel_backed_) {
      uint16_t mtu = 1500;
      (void)rte_eth_dev_get_mtu(port_, &mtu);
      max_frame_ = std::min<size_t>(max_frame_, size_t{mtu} + 14);
    }
  }

  // The pool of that name (a port opened again in this process finds its own), or a new one.
  rte_mempool* mbuf_pool(const std::string& name, uint32_t mbufs) const {
    if (rte_mempool* p = rte_mempool_lookup(name.c_str())) return p;
    const int sock = rte_eth_dev_socket_id(port_);
    rte_mempool* p = rte_pktmbuf_pool_create(name.c_str(), mbufs, 256, 0, RTE_PKTMBUF_HEADROOM + kFrameRoom, sock < 0 ? 0 : sock);
    if (p == nullptr)
      throw frame::FrameError("DPDK: mbuf pool of " + std::to_string(mbufs) + " x " +
                              std::to_string(RTE_PKTMBUF_HEADROOM + kFrameRoom) + " bytes: " + rte_strerror(rte_errno) +
                              " (more EAL memory: -m, or fewer mbufs)");
    return p;
  }

  ~EthdevPort() override {
    if (slot_ != nullptr) rte_pktmbuf_free(slot_);
    rte_pktmbuf_free_bulk(spare_.data() + spare_next_, spare_n_ - spare_next_);
    rte_pktmbuf_free_bulk(txq_.data(), static_cast<unsigned>(txq_n_ + reserved_));
    rte_eth_dev_stop(port_);
  }

  std::string describe() const override { return "DPDK port " + std::to_string(port_) + " (" + driver_ + ")"; }
  frame::Mac mac() const override { return mac_; }
  size_t max_frame() const override { return max_frame_; }

  size_t rx_burst(std::span<std::span<const uint8_t>> out) override {
    const auto want = static_cast<uint16_t>(std::min(out.size(), kBurst));
    rx_n_ = rte_eth_rx_burst(port_, 0, rx_.data(), want);
    size_t k = 0;
    for (uint16_t i = 0; i < rx_n_; ++i) {
      rte_mbuf* m = rx_[i];
      if (m->nb_segs != 1) {  // a frame longer than one mbuf: larger than any RoCE packet we accept
        ++rx_chained_;
        continue;
      }
      out[k++] = {rte_pktmbuf_mtod(m, const uint8_t*), m->data_len};
    }
    return k;
  }

  void rx_release() override {
    rte_pktmbuf_free_bulk(rx_.data(), rx_n_);
    rx_n_ = 0;
  }

  std::span<uint8_t> tx_slot() override {
    if (txq_n_ + reserved_ == kTxQueue) return {};
    if (slot_ == nullptr) slot_ = next_spare();
    if (slot_ == nullptr) {
      ++tx_no_mbuf_;
      return {};
    }
    return {rte_pktmbuf_mtod(slot_, uint8_t*), max_frame_};
  }

  void tx_commit(size_t len) override {
    release_reservation();  // the one-frame and the burst calls mixed: the slot goes first
    slot_->data_len = static_cast<uint16_t>(len);
    slot_->pkt_len = static_cast<uint32_t>(len);
    txq_[txq_n_++] = slot_;
    slot_ = nullptr;
  }

  void tx_flush() override {
    if (txq_n_ == 0) return;
    const uint16_t sent = rte_eth_tx_burst(port_, 0, txq_.data(), static_cast<uint16_t>(txq_n_));
    ++tx_calls_;
    // What the device did not take stays queued, in order, for the next flush (and a reservation not yet
    // committed stays right behind it).
    if (sent == 0) return;
    std::copy(txq_.begin() + sent, txq_.begin() + static_cast<long>(txq_n_ + reserved_), txq_.begin());
    txq_n_ -= sent;
  }

  // The reservation is the mbufs right behind the queue (txq_[txq_n_ ...]), so committing them is a count.
  size_t tx_reserve(std::span<uint8_t*> bufs) override {
    release_reservation();
    rte_mbuf** at = txq_.data() + txq_n_;
    auto want = static_cast<unsigned>(std::min(bufs.size(), kTxQueue - txq_n_));
    if (want == 0) return 0;
    // A bulk allocation takes all or nothing: when the pool runs short (the device holds the rest), less.
    while (want > 0 && rte_pktmbuf_alloc_bulk(tx_pool_, at, want) != 0) want /= 2;
    if (want == 0) {
      ++tx_no_mbuf_;
      return 0;
    }
    for (unsigned i = 0; i < want; ++i) bufs[i] = rte_pktmbuf_mtod(at[i], uint8_t*);
    reserved_ = want;
    return want;
  }

  void tx_commit_burst(std::span<const uint32_t> lens) override {
    const size_t n = std::min(lens.size(), reserved_);
    rte_mbuf** at = txq_.data() + txq_n_;
    for (size_t i = 0; i < n; ++i) {
      at[i]->data_len = static_cast<uint16_t>(lens[i]);
      at[i]->pkt_len = lens[i];
    }
    txq_n_ += n;
    reserved_ -= n;
    release_reservation();
  }

  void release_reservation() {
    if (reserved_ == 0) return;
    rte_pktmbuf_free_bulk(txq_.data() + txq_n_, static_cast<unsigned>(reserved_));
    reserved_ = 0;
  }

  // An mbuf from the bulk-allocated spares; a refill takes kTxAllocBulk at once, or one when the pool is
  // nearly empty (frames still queued for the device hold the rest).
  rte_mbuf* next_spare() {
    if (spare_next_ == spare_n_) {
      spare_next_ = spare_n_ = 0;
      if (rte_pktmbuf_alloc_bulk(tx_pool_, spare_.data(), kTxAllocBulk) == 0) {
        spare_n_ = kTxAllocBulk;
      } else if ((spare_[0] = rte_pktmbuf_alloc(tx_pool_)) != nullptr) {
        spare_n_ = 1;
      } else {
        return nullptr;
      }
    }
    return spare_[spare_next_++];
  }

  bool tx_pending() const override { return txq_n_ > 0; }
  bool tx_keeps_frames() const override { return tx_pool_ != pool_; }
  int wait_fd() const override { return -1; }
  uint64_t rx_syscalls() const override { return 0; }
  uint64_t tx_syscalls() const override { return 0; }

  std::vector<std::pair<std::string, uint64_t>> counters() const override {
    rte_eth_stats s{};
    (void)rte_eth_stats_get(port_, &s);
    return {{"ipackets", s.ipackets}, {"opackets", s.opackets}, {"imissed", s.imissed}, {"ierrors", s.ierrors},
            {"oerrors", s.oerrors}, {"rx_nombuf", s.rx_nombuf}, {"tx_bursts", tx_calls_},
            {"tx_no_mbuf", tx_no_mbuf_}, {"rx_chained_dropped", rx_chained_}};
  }

 private:
  uint16_t port_;
  std::string driver_;
  bool kernel_backed_ = false;
  rte_mempool* pool_ = nullptr;     // the receive queue's (and the transmit side's, unless it has its own)
  rte_mempool* tx_pool_ = nullptr;  // where transmit buffers come from
  frame::Mac mac_;
  size_t max_frame_ = 1514;
  std::array<rte_mbuf*, kBurst> rx_{};
  uint16_t rx_n_ = 0;
  std::array<rte_mbuf*, kTxQueue> txq_{};  // frames queued for the device, then the reservation
  size_t txq_n_ = 0, reserved_ = 0;
  rte_mbuf* slot_ = nullptr;
  std::array<rte_mbuf*, kTxAllocBulk> spare_{};  // allocated in bulk, handed out one slot at a time
  unsigned spare_n_ = 0, spare_next_ = 0;
  uint64_t tx_calls_ = 0, tx_no_mbuf_ = 0, rx_chained_ = 0;
};

}  // namespace

void check_port(const DpdkConfig& c) {
  init_eal(c.eal_args);
  if (!rte_eth_dev_is_valid_port(c.port))
    throw frame::FrameError("DPDK: no port " + std::to_string(c.port) + " (the EAL found " +
                            std::to_string(rte_eth_dev_count_avail()) +
                            "; add one with --vdev=net_af_packet0,iface=IFACE, or bind a NIC to a DPDK driver)");
}

std::unique_ptr<DpdkPort> open_dpdk_port(const DpdkConfig& config) { return std::make_unique<EthdevPort>(config); }

}  // namespace rfab::dpdk
