// One plugin device: an interface and the rfab endpoint Device on it (the RC engine over kernel UDP, or an
// RDMA device through libibverbs), opened on first use and kept until the process exits.
//
// Threading. NCCL calls the plugin from more than one thread (connection set-up from its proxy service
// thread, isend/irecv/test from its progress thread), and the plugin's own set-up workers create QPs too,
// but an endpoint Device wants one caller at a time: every use holds the device's mutex (NetDevice::Lock).
// A background thread keeps the device moving (ACKs, retransmissions, timers) while NCCL is not calling
// in; when NCCL is polling, its calls progress the device themselves and the thread stays out of the way.
//
// Completions land in the device's two shared completion queues; poll() hands each one to the comm that
// owns its QP (a CompletionSink registered with attach()).
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "interfaces.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::ncclnet {

class CompletionSink {
 public:
  virtual ~CompletionSink() = default;
  virtual void on_send_completion(const rc::WorkCompletion& wc) = 0;
  virtual void on_recv_completion(const rc::WorkCompletion& wc) = 0;
};

// A piece of registered memory a comm keeps its control messages in (recycled when the comm closes).
struct ControlSlice {
  void* addr = nullptr;
  uint32_t lkey = 0;
};

class NetDevice {
 public:
  NetDevice(int index, Interface iface, Transport transport);
  ~NetDevice();
  NetDevice(const NetDevice&) = delete;
  NetDevice& operator=(const NetDevice&) = delete;

  int index() const { return index_; }
  const Interface& iface() const { return iface_; }
  bool uses_verbs() const { return transport_ == Transport::verbs; }

  // Holds the device for the calling thread: announces itself so the background thread steps aside,
  // wakes a sleeping progress() and takes the mutex. Opens the Device on first use (throws EndpointError).
  class Lock {
   public:
    explicit Lock(NetDevice& d);
    ~Lock();
    Lock(const Lock&) = delete;
    Lock& operator=(const Lock&) = delete;

   private:
    NetDevice& d_;
    std::unique_lock<std::mutex> lock_;
  };

  // The following need a Lock.
  endpoint::Device& dev() { return *dev_; }
  // Moves packets and timers once without waiting and dispatches the completions.
  void poll();
  void attach(uint32_t qpn, CompletionSink* sink) { sinks_[qpn] = sink; }
  void detach(uint32_t qpn) { sinks_.erase(qpn); }
  // Registers [addr, addr+len) for local and remote write. The endpoint Device keeps a region registered
  // for its lifetime, so a region registered again (NCCL re-registers buffers) reuses its keys.
  endpoint::MemoryKey register_memory(void* addr, size_t len);
  ControlSlice take_control(size_t bytes);
  void give_control(ControlSlice s) { free_control_.push_back(s); }
  // The largest path MTU this side offers.
  uint32_t max_mtu() const;

 private:
  void open_locked();
  void dispatch();
  void background();

  const int index_;
  const Interface iface_;
  const Transport transport_;
  std::unique_ptr<endpoint::Device> dev_;
  std::mutex mu_;
  std::atomic<bool> opened_{false};   // dev_ exists (read without the mutex, to wake it)
  std::atomic<int> waiting_{0};       // API callers that want the mutex
  std::atomic<bool> stop_{false};
  std::thread progress_thread_;
  Nanos last_api_poll_ = 0;
  std::unordered_map<uint32_t, CompletionSink*> sinks_;
  std::map<std::pair<uintptr_t, size_t>, endpoint::MemoryKey> regions_;
  std::deque<std::unique_ptr<uint8_t[]>> control_chunks_;
  std::vector<ControlSlice> free_control_;
  size_t control_slice_bytes_ = 0;
};

}  // namespace rfab::ncclnet
