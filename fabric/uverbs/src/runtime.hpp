// One opened provider device's datapath: rfab's RC engine QPs carried by the endpoint layer's packet driver
// (kernel UDP on the device's address, port 4791), shared by every ibv_context opened on that device in
// the process.
//
// Who moves packets. An application calling ibv_poll_cq or ibv_post_send drives the engine itself
// (one non-blocking progress pass per call: no thread hand-off on the fast path). A progress thread takes
// over whenever the application has not done so for kIdleAfter, or is blocked in ibv_get_cq_event: it
// sleeps in the driver's epoll until a packet, a timer or an application call, so a passive side (the
// target of RDMA WRITEs, a server waiting on a TCP socket) still answers. Every engine object (QPs, CQs,
// protection domains, the driver) is touched only under `mu`; an application call that finds the thread
// asleep in the driver wakes it first (AppLock).
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "rfab/endpoint/packet_driver.hpp"
#include "rfab/rc/cq.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::uverbs {

struct Cq;

class Runtime {
 public:
  // Binds the device's address (port 4791). Throws endpoint::EndpointError naming the address.
  explicit Runtime(const udp::Address& local);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  endpoint::PacketDriver& driver() { return *driver_; }
  uint32_t next_qpn();  // unused QP number (random base per process: a stale peer's packets miss)

  // Under mu: one non-blocking pass of the driver, then completion-channel notifications.
  void progress_locked();
  // Under mu: a CQ armed by ibv_req_notify_cq; it is notified once when it holds a completion.
  void arm(Cq& cq);
  void forget(Cq& cq);  // under mu: the CQ is being destroyed
  void notify_locked(); // under mu: signal armed CQs that hold completions

  // An application thread is blocked in ibv_get_cq_event: the progress thread must not wait for it.
  void blocked_begin() { blocked_.fetch_add(1); wake_thread(); }
  void blocked_end() { blocked_.fetch_sub(1); }

  std::mutex mu;

 private:
  friend class AppLock;
  void wake_thread();
  void run();

  std::unique_ptr<endpoint::PacketDriver> driver_;
  std::vector<Cq*> armed_;
  uint32_t qpn_base_ = 0, qpn_count_ = 0;
  std::atomic<int> app_waiting_{0};  // application threads waiting for mu
  std::atomic<int> blocked_{0};
  std::atomic<bool> sleeping_{false};  // the progress thread waits in the driver holding mu
  std::atomic<int64_t> last_app_progress_{0};  // driver->now() of the last application-driven pass
  std::atomic<bool> stop_{false};
  std::mutex nap_mu_;  // the thread's nap while the application drives the engine
  std::condition_variable nap_cv_;
  std::thread thread_;
};

// Held by every verb that touches engine state. Announces itself so that the progress thread, when it
// sleeps in the driver holding the lock, is woken and hands the lock over.
class AppLock {
 public:
  explicit AppLock(Runtime& rt);
  ~AppLock();
  AppLock(const AppLock&) = delete;
  AppLock& operator=(const AppLock&) = delete;
  // The application drives the engine now (poll_cq, post_send): one pass, and the thread stays out.
  void progress();

 private:
  Runtime& rt_;
};

}  // namespace rfab::uverbs
