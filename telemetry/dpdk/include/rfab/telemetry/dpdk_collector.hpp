// A Collector that reads a DPDK port instead of hooking a kernel interface: every frame the port receives
// is counted as the eBPF collector counts one on ingress (FrameCounter), so `rfab collect` exports the
// same records, Prometheus series and events, and `rfab validate` applies the same gates. The port is
// polled while poll_events() waits (a DPDK port has no file descriptor to sleep on).
#pragma once
#include <memory>
#include <string>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

struct DpdkCollectorConfig {
  std::string eal_args;  // e.g. "--no-huge -m 512 --no-pci --no-shconf --vdev=net_af_packet0,iface=veth1"
  uint16_t port = 0;
  CollectorConfig counting;  // roce_port, flow_map_entries, CNP burst rule, hole timeout (iface, hook unused)
};

// Throws TelemetryError naming the problem (EAL arguments, no such port, mbuf pool too large).
std::unique_ptr<Collector> open_dpdk_collector(const DpdkCollectorConfig& cfg);

// The interface a net_af_packet / net_af_xdp vdev reads ("iface=NAME" in the EAL arguments), or "".
std::string dpdk_vdev_iface(const std::string& eal_args);

}  // namespace rfab::telemetry
