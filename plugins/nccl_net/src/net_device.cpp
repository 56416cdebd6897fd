#include "net_device.hpp"

#include <array>
#include <chrono>

#include "rfab/endpoint/engine_device.hpp"
#include "rfab/endpoint/verbs_device.hpp"

namespace rfab::ncclnet {
namespace {

// Completion queue depth shared by every QP of a device: each comm has at most a few hundred work
// requests outstanding, and poll() drains the queues on every call.
constexpr size_t kCqEntries = 1 << 16;
// The background thread progresses only when no API call has for this long, and then sleeps in the
// device for at most kBackgroundWait at a time.
constexpr Nanos kApiQuiet = 2'000'000;
constexpr Nanos kBackgroundWait = 1'000'000;
constexpr size_t kControlSlicesPerChunk = 16;

}  // namespace

NetDevice::NetDevice(int index, Interface iface, Transport transport)
    : index_(index), iface_(std::move(iface)), transport_(transport) {}

NetDevice::~NetDevice() {
  stop_ = true;
  if (progress_thread_.joinable()) {
    dev_->wake();
    progress_thread_.join();
  }
}

NetDevice::Lock::Lock(NetDevice& d) : d_(d) {
  d_.waiting_.fetch_add(1, std::memory_order_acq_rel);
  if (d_.opened_.load(std::memory_order_acquire)) d_.dev_->wake();  // wake() is safe from any thread
  lock_ = std::unique_lock<std::mutex>(d_.mu_);
  d_.waiting_.fetch_sub(1, std::memory_order_acq_rel);
  if (!d_.dev_) d_.open_locked();
}

NetDevice::Lock::~Lock() = default;

void NetDevice::open_locked() {
  if (transport_ == Transport::verbs) {
    endpoint::VerbsConfig vc;  // RFAB_VERBS_DEVICE / _PORT / _GID_INDEX, else the first usable device
    vc.sleep = true;
    dev_ = endpoint::make_verbs_device(vc);
  } else {
    udp::DriverConfig dc;
    dc.local = iface_.ip.with_port(0);  // the kernel picks the UDP port: several processes share an IP
    // Like the collectives' RoCE transport: the UDP checksum already guards the payload; the ICRC check
    // costs a pass over every byte.
    dc.verify_icrc = false;
    dev_ = endpoint::make_udp_device(dc);
  }
  dev_->create_cqs(kCqEntries, kCqEntries);
  last_api_poll_ = dev_->now();
  opened_.store(true, std::memory_order_release);
  progress_thread_ = std::thread([this] { background(); });
}

uint32_t NetDevice::max_mtu() const {
  return transport_ == Transport::verbs ? dev_->max_mtu(4096) : roce_mtu_for_link(iface_.mtu);
}

void NetDevice::poll() {
  dev_->progress(0);
  last_api_poll_ = dev_->now();
  dispatch();
}

void NetDevice::dispatch() {
  std::array<rc::WorkCompletion, 64> wc;
  for (;;) {
    const size_t ns = dev_->poll_send(wc);
    for (size_t i = 0; i < ns; ++i)
      if (auto it = sinks_.find(wc[i].qp_num); it != sinks_.end()) it->second->on_send_completion(wc[i]);
    const size_t nr = dev_->poll_recv(wc);
    for (size_t i = 0; i < nr; ++i)
      if (auto it = sinks_.find(wc[i].qp_num); it != sinks_.end()) it->second->on_recv_completion(wc[i]);
    if (ns < wc.size() && nr < wc.size()) return;
  }
}

void NetDevice::background() {
  while (!stop_.load()) {
    if (waiting_.load(std::memory_order_acquire) > 0) {
      std::this_thread::yield();
      continue;
    }
    std::unique_lock<std::mutex> l(mu_);
    if (stop_.load()) return;
    if (dev_->now() - last_api_poll_ < kApiQuiet) {
      l.unlock();
      std::this_thread::sleep_for(std::chrono::nanoseconds(kApiQuiet / 2));
      continue;
    }
    dev_->progress(kBackgroundWait);
    dispatch();
  }
}

endpoint::MemoryKey NetDevice::register_memory(void* addr, size_t len) {
  const auto key = std::make_pair(reinterpret_cast<uintptr_t>(addr), len);
  if (auto it = regions_.find(key); it != regions_.end()) return it->second;
  const endpoint::MemoryKey k = dev_->reg_mr(addr, len, rc::kLocalWrite | rc::kRemoteWrite);
  regions_.emplace(key, k);
  return k;
}

ControlSlice NetDevice::take_control(size_t bytes) {
  if (control_slice_bytes_ == 0) control_slice_bytes_ = (bytes + 63) / 64 * 64;
  if (bytes > control_slice_bytes_) throw endpoint::EndpointError("control slice of " + std::to_string(bytes) + " bytes");
  if (free_control_.empty()) {
    const size_t chunk = control_slice_bytes_ * kControlSlicesPerChunk;
    auto mem = std::make_unique<uint8_t[]>(chunk + 64);
    auto* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(mem.get()) + 63) / 64 * 64);
    const uint32_t lkey = dev_->reg_mr(base, chunk, rc::kLocalWrite).lkey;
    for (size_t i = 0; i < kControlSlicesPerChunk; ++i) free_control_.push_back({base + i * control_slice_bytes_, lkey});
    control_chunks_.push_back(std::move(mem));
  }
  ControlSlice s = free_control_.back();
  free_control_.pop_back();
  return s;
}

}  // namespace rfab::ncclnet
