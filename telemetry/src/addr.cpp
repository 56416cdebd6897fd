#include "rfab/telemetry/addr.hpp"

#include <arpa/inet.h>

namespace rfab::telemetry {

std::string format_addr(const uint8_t (&addr)[16], uint8_t family) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == 4) {
    inet_ntop(AF_INET, addr + 12, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, addr, buf, sizeof buf);
  }
  return buf;
}

const char* dir_name(uint8_t dir) { return dir == RFAB_DIR_EGRESS ? "tx" : "rx"; }

const char* op_class_name(unsigned cls) {
  static const char* const names[RFAB_OPC_COUNT] = {"send", "write", "read_request", "read_response", "ack",
                                                    "atomic", "atomic_ack", "cnp", "other"};
  return cls < RFAB_OPC_COUNT ? names[cls] : "invalid";
}

const char* nak_kind_name(unsigned kind) {
  static const char* const names[RFAB_NAK_COUNT] = {"psn_sequence_error", "invalid_request",
                                                    "remote_access_error", "remote_operational_error",
                                                    "invalid_rd_request", "rnr", "other"};
  return kind < RFAB_NAK_COUNT ? names[kind] : "invalid";
}

const char* event_type_name(uint32_t type) {
  switch (type) {
    case RFAB_EV_NAK: return "nak";
    case RFAB_EV_PSN_LOST: return "psn_lost";
    case RFAB_EV_CNP_BURST: return "cnp_burst";
    default: return "unknown";
  }
}

}  // namespace rfab::telemetry
