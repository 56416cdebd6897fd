// The JSON-lines records of `rfab collect --json` / `--json-file` (json_lines.hpp, events.hpp) read back from
// a file, and turned into the Measurement `rfab validate` gates: the same gates on a recorded real run or
// on an emulated fabric (`rfab emulate --telemetry`), which writes the same records.
//
// The window is the first and the last metrics record of the file: counters are their difference, the
// time is their ts_ns difference when both carry one (the emulator's virtual time) or else their ts_ms.
// Counters are summed over every interface in the file; the line rate is the sum of the interfaces'
// rfab_iface_speed_bps (written by the emulator; a collector file has none, so --min-line-rate needs a
// line rate given by hand). A record with "scope":"fabric" (the emulator's) holds every NIC of a fabric:
// the throughput gated is then what the NICs received (Measurement::received_only).
// The file is read as a stream, line by line (src/record_scan.hpp): memory does not grow with its size.
#pragma once
#include <istream>
#include <stdexcept>
#include <string>
#include <vector>

#include "rfab/telemetry/validate.hpp"

namespace rfab::telemetry {

// A record file that cannot be read or gated; what() names the file and, where there is one, the line.
struct RecordsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Families the collector has no equivalent for, written by the emulator (docs/telemetry.md, "Records").
inline const std::vector<std::string>& record_extension_families() {
  static const std::vector<std::string> names{"rfab_iface_speed_bps",  "rfab_link_packets_total",
                                              "rfab_link_bytes_total", "rfab_link_drops_total",
                                              "rfab_link_ecn_ce_total", "rfab_link_pfc_pauses_total",
                                              "rfab_link_speed_bps"};
  return names;
}

// `name` is the file name used in error messages. Throws RecordsError.
Measurement measure_records(std::istream& in, const std::string& name);
Measurement measure_records_file(const std::string& path);

}  // namespace rfab::telemetry
