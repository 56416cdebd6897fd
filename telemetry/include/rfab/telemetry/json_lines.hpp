// Metrics as one JSON object per line: {"ts_ms":..,"metrics":{"name":[{"labels":{..},"value":v},..]}}.
#pragma once
#include <cstdint>
#include <string>

#include "rfab/telemetry/metrics.hpp"

namespace rfab::telemetry {

std::string render_json_line(const Metrics& m, uint64_t unix_ms);  // no trailing newline

}  // namespace rfab::telemetry
