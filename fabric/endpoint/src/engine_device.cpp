// Device over rfab's RC engine: a protection domain, the two shared completion queues, the QPs, and the
// packet driver that moves their packets (attached when a QP reaches RTR, detached when it is destroyed).
#include "rfab/endpoint/engine_device.hpp"

#include <random>
#include <string>
#include <unordered_map>

#include "rfab/congestion/factory.hpp"
#include "rfab/rc/cq.hpp"
#include "rfab/rc/memory.hpp"

namespace rfab::endpoint {
namespace {

class EngineDevice final : public Device {
 public:
  explicit EngineDevice(std::unique_ptr<PacketDriver> driver) : driver_(std::move(driver)) {
    std::random_device rd;
    next_qpn_base_ = (rd() & 0xFFF) << 12;  // QPNs differ between runs: a stale peer's packets miss
  }

  ~EngineDevice() override {
    for (auto& [qpn, qp] : qps_) driver_->detach(qpn);
  }

  DeviceCaps caps() const override { return {true, true, true}; }
  std::string name() const override { return driver_->name() + " " + driver_->local().to_string(); }
  udp::Address address() const override { return driver_->local(); }
  Gid gid() const override { return driver_->local().gid(); }
  uint32_t max_mtu(uint32_t wanted) const override { return driver_->max_mtu(wanted); }

  MemoryKey reg_mr(void* addr, size_t len, uint32_t access) override {
    try {
      const rc::MemoryRegion* mr = pd_.reg_mr(addr, len, access);
      return {mr->lkey(), mr->rkey(), mr->iova()};
    } catch (const std::exception& e) {
      throw EndpointError("memory registration of " + std::to_string(len) + " bytes: " + e.what());
    }
  }

  void dereg_mr(const MemoryKey& key) override {
    const rc::MemoryRegion* mr = pd_.find(key.lkey);
    if (mr == nullptr || !pd_.dereg_mr(const_cast<rc::MemoryRegion*>(mr)).ok())
      throw EndpointError("deregistering memory: key " + std::to_string(key.lkey) + " is not registered");
  }

  uint32_t any_memory_lkey() override {
    // Local read only (no remote access): the engine gathers payloads from it, peers can name nothing.
    // Page 0 is never mapped; 2^57 covers x86-64 user space even with 5-level paging.
    if (any_mr_ == nullptr) any_mr_ = pd_.reg_mr(reinterpret_cast<void*>(uintptr_t{4096}), (uint64_t{1} << 57) - 4096, 0);
    return any_mr_->lkey();
  }

  void create_cqs(size_t send_entries, size_t recv_entries) override {
    if (send_cq_) throw EndpointError(name() + ": completion queues created twice");
    send_cq_ = std::make_unique<rc::CompletionQueue>(send_entries);
    recv_cq_ = std::make_unique<rc::CompletionQueue>(recv_entries);
  }

  uint32_t create_qp(const QpConfig& c) override {
    if (!send_cq_) throw EndpointError(name() + ": create_cqs() must come before the first QP");
    rc::QpInit init;
    init.pd = &pd_;
    init.send_cq = send_cq_.get();
    init.recv_cq = recv_cq_.get();
    init.cap = c.cap;
    init.qp_num = c.qp_num != 0 ? c.qp_num : (next_qpn_base_ | ++created_) & 0xFFFFFF;
    if (c.max_outstanding != 0) init.tuning.max_outstanding = c.max_outstanding;
    if (c.reorder_window != 0) init.tuning.reorder_window = c.reorder_window;
    if (c.reorder_time != 0) init.tuning.reorder_time = c.reorder_time;
    init.tuning.line_bps = c.line_bps;
    if (qps_.count(init.qp_num) != 0) throw EndpointError(name() + ": QP number " + std::to_string(init.qp_num) + " is taken");
    std::unique_ptr<cc::Controller> controller;
    try {
      controller = cc::make_controller(c.cc, c.line_bps);
      init.cc = controller.get();
      qps_.emplace(init.qp_num, std::make_unique<rc::QueuePair>(init));
    } catch (const std::exception& e) {
      throw EndpointError(name() + ": creating QP " + std::to_string(init.qp_num) + ": " + e.what());
    }
    controllers_.emplace(init.qp_num, std::move(controller));
    return init.qp_num;
  }

  void modify_qp(uint32_t qpn, const rc::QpAttr& attr, uint32_t mask, const udp::Address* peer,
                 const char* step) override {
    rc::QueuePair& q = qp(qpn);
    if (peer != nullptr && peer->v6 != driver_->local().v6)
      throw EndpointError("QP " + std::to_string(qpn) + " to " + step + ": the peer " + peer->to_string() +
                          " and this side " + driver_->local().to_string() + " differ in IP version");
    const rc::Status st = q.modify(attr, mask);
    if (!st.ok()) throw EndpointError("QP " + std::to_string(qpn) + " to " + step + ": " + st.what);
    if (peer != nullptr) driver_->attach(q, *peer);
  }

  rc::QpState qp_state(uint32_t qpn) const override { return qp(qpn).state(); }
  rc::QpStats qp_stats(uint32_t qpn) const override { return qp(qpn).stats(); }
  std::vector<rc::PathStats> qp_paths(uint32_t qpn) const override { return qp(qpn).path_stats(); }
  cc::ControllerStats qp_cc(uint32_t qpn) const override {
    auto it = controllers_.find(qpn);
    if (it == controllers_.end()) throw EndpointError(name() + ": no QP " + std::to_string(qpn));
    return it->second->summary(driver_->now());
  }

  rc::Status post_send(uint32_t qpn, const rc::SendWr& wr) override { return qp(qpn).post_send(wr); }
  rc::Status post_recv(uint32_t qpn, const rc::RecvWr& wr) override { return qp(qpn).post_recv(wr); }
  size_t poll_send(std::span<rc::WorkCompletion> out) override { return send_cq_->poll(out); }
  size_t poll_recv(std::span<rc::WorkCompletion> out) override { return recv_cq_->poll(out); }

  bool progress(Nanos max_wait) override { return driver_->progress(max_wait); }
  Nanos now() const override { return driver_->now(); }
  void wake() override { driver_->wake(); }
  DeviceCounters counters() const override { return driver_->counters(); }

 private:
  rc::QueuePair& qp(uint32_t qpn) const {
    // The last QP used answers most lookups (a collective's chunk, a perf QP's burst).
    if (last_ != nullptr && last_qpn_ == qpn) return *last_;
    auto it = qps_.find(qpn);
    if (it == qps_.end()) throw EndpointError(name() + ": no QP " + std::to_string(qpn));
    last_qpn_ = qpn;
    last_ = it->second.get();
    return *last_;
  }

  // Declaration order is destruction order reversed: the QPs go before the controllers, CQs and PD they
  // use; the driver, which the destructor detaches them from, goes last.
  std::unique_ptr<PacketDriver> driver_;
  rc::ProtectionDomain pd_;
  std::unique_ptr<rc::CompletionQueue> send_cq_, recv_cq_;
  std::unordered_map<uint32_t, std::unique_ptr<cc::Controller>> controllers_;
  std::unordered_map<uint32_t, std::unique_ptr<rc::QueuePair>> qps_;
  rc::MemoryRegion* any_mr_ = nullptr;
  uint32_t next_qpn_base_ = 0, created_ = 0;
  mutable uint32_t last_qpn_ = 0;
  mutable rc::QueuePair* last_ = nullptr;
};

}  // namespace

std::unique_ptr<Device> make_engine_device(std::unique_ptr<PacketDriver> driver) {
  return std::make_unique<EngineDevice>(std::move(driver));
}

std::unique_ptr<Device> make_udp_device(const udp::DriverConfig& config) {
  return make_engine_device(make_udp_packet_driver(config));
}

}  // namespace rfab::endpoint
