// `rfab doctor` checks: each one a verdict (pass / warn / fail / skip), what was seen, and how to fix it.
// The evaluate_* functions are pure (inventory in, checks out) so they are unit-tested on fake sysfs trees;
// the probes (network, kernel modules, netlink) live in doctor_probes.hpp.
#pragma once
#include <string>
#include <vector>

#include "doctor_inventory.hpp"

namespace rfab::cli::doctor {

enum class Verdict { pass, warn, fail, skip };
const char* to_string(Verdict v);

struct Check {
  std::string name;    // "port rxe0/1", "gid rxe0/1", "peer 10.0.0.2"
  Verdict verdict = Verdict::pass;
  std::string detail;  // what was seen
  std::string hint;    // how to fix it (empty on pass)
};

// Devices present (warn when none: rfab falls back to its user-space RoCE).
Check evaluate_devices(const Inventory& inv);
// Port state, physical state, link layer and rate.
Check evaluate_port(const PortInfo& p);
// Active MTU against what the netdev MTU allows.
Check evaluate_mtu(const PortInfo& p);
// GID table: RoCE v1/v2 entries and the recommended index.
Check evaluate_gids(const PortInfo& p);
// Error counters with hints (out_of_sequence, local_ack_timeout_err, rnr_nak_retry_err, np_cnp_sent, and
// rxe's names for the same events).
Check evaluate_counters(const PortInfo& p);

bool any_failed(const std::vector<Check>& checks);

}  // namespace rfab::cli::doctor
