// Built with -DRFAB_WITH_BPF=OFF: the collector cannot exist, and says so.
#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

std::unique_ptr<Collector> Collector::open(const CollectorConfig&) {
  throw TelemetryError("this rfab was built without eBPF support (-DRFAB_WITH_BPF=OFF): "
                       "rebuild with libbpf-dev, bpftool and clang installed");
}

}  // namespace rfab::telemetry
