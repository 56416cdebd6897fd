// Text forms of the addresses and names in flow keys.
#pragma once
#include <cstdint>
#include <string>

#include "rfab/telemetry/bpf_types.h"

namespace rfab::telemetry {

// "10.0.0.1" for IPv4-mapped keys (family 4), "fd00::1" for IPv6.
std::string format_addr(const uint8_t (&addr)[16], uint8_t family);
const char* dir_name(uint8_t dir);             // "rx" | "tx"
const char* op_class_name(unsigned cls);       // "send", "write", ...
const char* nak_kind_name(unsigned kind);      // "psn_sequence_error", ..., "rnr"
const char* event_type_name(uint32_t type);    // "nak" | "psn_lost" | "cnp_burst"

}  // namespace rfab::telemetry
