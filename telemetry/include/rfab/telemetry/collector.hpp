// The eBPF RoCE v2 collector: loads the programs, attaches them to one interface (XDP native, XDP
// generic or tc ingress+egress), reads the counters and drains the notable-event ring buffer.
// Detaches when destroyed (the attachments are BPF links, so the kernel also detaches them if the
// process dies).
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "rfab/telemetry/bpf_types.h"
#include "rfab/telemetry/hook.hpp"
#include "rfab/telemetry/psn_window.hpp"

namespace rfab::telemetry {

struct TelemetryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CollectorConfig {
  std::string iface;
  Hook hook = Hook::xdp;
  uint16_t roce_port = 4791;
  uint32_t flow_map_entries = 16384;
  uint32_t ringbuf_bytes = 256 * 1024;  // power of two, at least one page
  uint64_t cnp_burst_window_ns = 1'000'000;
  uint32_t cnp_burst_threshold = 8;
  // A hole in a flow's request PSNs open longer than this is lost (docs/telemetry.md); 0: holes are lost
  // only when they leave the PSN window. At most RFAB_PSN_HOLE_TIMEOUT_NS_MAX. Unset: the environment's
  // RFAB_TELEMETRY_HOLE_TIMEOUT, else RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT.
  std::optional<uint64_t> hole_timeout_ns;
};

struct FlowRecord {
  rfab_flow_key key{};
  rfab_flow_stats stats{};
  rfab_psn_window window{};             // the request-PSN window (read under its lock; the lock word is 0)
  std::vector<EntropyCount> entropies;  // packets per UDP source port, by port
  uint32_t outstanding = 0;             // holes open in the reorder window when the snapshot was taken
};

struct CollectorSnapshot {
  std::vector<FlowRecord> flows;                     // sorted by key
  std::array<rfab_totals, RFAB_DIR_COUNT> totals{};  // summed over CPUs
  uint32_t flow_map_entries = 0;                     // capacity, to report fill level
  std::chrono::steady_clock::time_point taken{};
};

struct Event {
  rfab_event raw{};
};

class Collector {
 public:
  // Throws TelemetryError naming the problem (no such interface, missing privileges, hook busy, verifier).
  static std::unique_ptr<Collector> open(const CollectorConfig& cfg);
  virtual ~Collector() = default;
  virtual const CollectorConfig& config() const = 0;
  virtual CollectorSnapshot snapshot() = 0;
  // Waits up to `timeout` for events and returns those that arrived.
  virtual std::vector<Event> poll_events(std::chrono::milliseconds timeout) = 0;
  virtual void detach() = 0;
};

}  // namespace rfab::telemetry
