// A terminal table of the busiest flows with rates since the previous snapshot.
#pragma once
#include <cstddef>
#include <string>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

// `prev` may be null (then rates are over the flows' whole life). At most `max_rows` flows.
std::string render_table(const std::string& iface, const CollectorSnapshot& now, const CollectorSnapshot* prev,
                         size_t max_rows = 20);

}  // namespace rfab::telemetry
