#include "rfab/telemetry/dpdk_collector.hpp"

#include <time.h>

#include <array>

#include "rfab/dpdk/dpdk.hpp"
#include "rfab/frame/error.hpp"
#include "rfab/telemetry/frame_counter.hpp"

namespace rfab::telemetry {
namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

FrameCounterConfig counting_of(const CollectorConfig& c) {
  FrameCounterConfig f;
  f.roce_port = c.roce_port;
  f.flow_capacity = c.flow_map_entries;
  f.cnp_burst_window_ns = c.cnp_burst_window_ns;
  f.cnp_burst_threshold = c.cnp_burst_threshold;
  f.hole_timeout_ns = c.hole_timeout_ns.value_or(RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT);
  if (f.hole_timeout_ns > RFAB_PSN_HOLE_TIMEOUT_NS_MAX)
    throw TelemetryError("hole timeout " + std::to_string(f.hole_timeout_ns / 1000000) + " ms is above the " +
                         std::to_string(RFAB_PSN_HOLE_TIMEOUT_NS_MAX / 1000000000) + " s the PSN window's stamps hold");
  return f;
}

class DpdkCollector final : public Collector {
 public:
  explicit DpdkCollector(const DpdkCollectorConfig& c) : cfg_(c.counting), counter_(counting_of(c.counting)) {
    dpdk::DpdkConfig d;
    d.eal_args = c.eal_args;
    d.port = c.port;
    try {
      port_ = dpdk::open_dpdk_port(d);
    } catch (const frame::FrameError& e) {
      throw TelemetryError(e.what());
    }
  }

  const CollectorConfig& config() const override { return cfg_; }

  CollectorSnapshot snapshot() override {
    drain();
    return counter_.snapshot();
  }

  // Polls the port until `timeout` has passed (at least one burst), counting every frame.
  std::vector<Event> poll_events(std::chrono::milliseconds timeout) override {
    const uint64_t until = monotonic_ns() + static_cast<uint64_t>(timeout.count()) * 1'000'000ull;
    do {
      drain();
    } while (monotonic_ns() < until);
    return counter_.take_events();
  }

  void detach() override { port_.reset(); }

 private:
  // Bursts until the port has nothing more right now.
  void drain() {
    if (!port_) return;
    std::array<std::span<const uint8_t>, 64> burst;
    for (;;) {
      const size_t n = port_->rx_burst(burst);
      if (n == 0) {
        port_->rx_release();
        return;
      }
      const uint64_t now = monotonic_ns();
      for (size_t i = 0; i < n; ++i) counter_.count(burst[i], now, RFAB_DIR_INGRESS);
      port_->rx_release();
    }
  }

  CollectorConfig cfg_;
  FrameCounter counter_;
  std::unique_ptr<frame::FramePort> port_;
};

}  // namespace

std::unique_ptr<Collector> open_dpdk_collector(const DpdkCollectorConfig& cfg) {
  return std::make_unique<DpdkCollector>(cfg);
}

std::string dpdk_vdev_iface(const std::string& eal_args) {
  const auto at = eal_args.find("iface=");
  if (at == std::string::npos) return "";
  const auto start = at + 6;
  const auto end = eal_args.find_first_of(", \t", start);
  return eal_args.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

}  // namespace rfab::telemetry
