// Notable events (NAK, PSN gap, CNP burst) as JSON objects and one-line text.
#pragma once
#include <string>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

std::string event_json(const Event& e, const std::string& iface);  // one JSON object, no newline
std::string event_text(const Event& e);                             // "psn_lost rx 10.0.0.1 > 10.0.0.2 qp 17 ..."

}  // namespace rfab::telemetry
