// Collector snapshots as metrics: rfab_roce_* per flow and rfab_iface_* per direction.
#pragma once
#include <string>

#include "rfab/telemetry/collector.hpp"
#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

void add_flow_metrics(Metrics& m, const std::string& iface, const CollectorSnapshot& s);

}  // namespace rfab::telemetry
