#include "runtime.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <random>

#include "cm_gsi.hpp"
#include "objects.hpp"
#include "rfab/udp/driver.hpp"

namespace rfab::uverbs {
namespace {

// An application pass this recent means the application drives the engine and the thread stays out.
constexpr Nanos kIdleAfter = 50'000;
// Longest sleep of the thread in the driver without anything to do (the driver wakes earlier for packets
// and timers; an application call wakes it at once).
constexpr Nanos kMaxSleep = 50'000'000;

}  // namespace

Runtime::Runtime(const udp::Address& local) {
  udp::DriverConfig cfg;
  cfg.local = local;
  // IB CM MADs for this device's QP 1 go to the provider's rdma_cm (cm_gsi.hpp).
  cfg.gsi = [local](const udp::Address& src, std::span<const uint8_t> packet) {
    gsi::inbox().push(local, src, packet);
  };
  driver_ = endpoint::make_udp_packet_driver(cfg);
  std::random_device rd;
  qpn_base_ = (rd() & 0xFFF) << 12;
  thread_ = std::thread([this] { run(); });
}

Runtime::~Runtime() {
  stop_.store(true);
  wake_thread();
  thread_.join();
}

uint32_t Runtime::next_qpn() {
  for (;;) {
    const uint32_t q = (qpn_base_ | ++qpn_count_) & 0xFFFFFF;
    if (q > 1) return q;  // QP 0 and 1 are the IB special QPs
  }
}

void Runtime::wake_thread() {
  if (sleeping_.load()) driver_->wake();
  std::lock_guard<std::mutex> g(nap_mu_);
  nap_cv_.notify_one();
}

void Runtime::progress_locked() {
  try {
    driver_->progress(0);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rfab-verbs: datapath: %s\n", e.what());
  }
  notify_locked();
}

void Runtime::arm(Cq& cq) {
  cq.armed_at = cq.polled + cq.cq->size();
  if (cq.armed) return;
  cq.armed = true;
  armed_.push_back(&cq);
}

void Runtime::forget(Cq& cq) {
  armed_.erase(std::remove(armed_.begin(), armed_.end(), &cq), armed_.end());
  cq.armed = false;
}

void Runtime::notify_locked() {
  for (size_t i = 0; i < armed_.size();) {
    Cq* cq = armed_[i];
    if (cq->polled + cq->cq->size() <= cq->armed_at || cq->channel == nullptr) {
      ++i;
      continue;
    }
    cq->armed = false;
    armed_[i] = armed_.back();
    armed_.pop_back();
    {
      std::lock_guard<std::mutex> g(cq->channel->mu);
      cq->channel->events.push_back(&cq->ibv);
    }
    const uint64_t one = 1;
    (void)!::write(cq->channel->ibv.fd, &one, sizeof one);
  }
}

void Runtime::run() {
  while (!stop_.load()) {
    const Nanos since = driver_->now() - last_app_progress_.load();
    if (blocked_.load() == 0 && since < kIdleAfter) {
      std::unique_lock<std::mutex> nap(nap_mu_);
      nap_cv_.wait_for(nap, std::chrono::nanoseconds(kIdleAfter - since),
                       [this] { return stop_.load() || blocked_.load() > 0; });
      continue;
    }
    {
      std::lock_guard<std::mutex> g(mu);
      sleeping_.store(true);
      const Nanos wait = app_waiting_.load() > 0 ? 0 : kMaxSleep;
      try {
        driver_->progress(wait);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "rfab-verbs: datapath: %s\n", e.what());
      }
      sleeping_.store(false);
      notify_locked();
    }
    // Hand the lock to application threads that asked for it.
    while (app_waiting_.load() > 0 && !stop_.load()) std::this_thread::yield();
  }
}

AppLock::AppLock(Runtime& rt) : rt_(rt) {
  rt.app_waiting_.fetch_add(1);
  if (rt.sleeping_.load()) rt.driver_->wake();
  rt.mu.lock();
  rt.app_waiting_.fetch_sub(1);
}

AppLock::~AppLock() {
  rt_.notify_locked();
  rt_.mu.unlock();
}

void AppLock::progress() {
  rt_.progress_locked();
  rt_.last_app_progress_.store(rt_.driver_->now());
}

}  // namespace rfab::uverbs
