// DCQCN parameters for all three roles (reaction point = sender NIC, notification point = receiver NIC,
// congestion point = switch egress queue), two presets, field-by-field overrides and a spec parser:
//   "dcqcn"                                   the paper preset
//   "dcqcn:preset=connectx"                   ConnectX (mlx5 firmware) defaults
//   "dcqcn:preset=paper,g=0.00390625,kmin=5KB,rai=40Mbps"
// Sources for every default are in docs/dcqcn.md.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "rfab/base/time.hpp"

namespace rfab::cc {

// RED/WRED ECN marking at a switch egress queue (the congestion point).
struct RedParams {
  uint64_t kmin_bytes = 5000;    // no marking at or below this queue length
  uint64_t kmax_bytes = 200000;  // marking probability reaches pmax here; always mark above
  double pmax = 0.01;

  bool operator==(const RedParams&) const = default;
};

struct DcqcnParams {
  // --- reaction point (sender) ---
  double g = 1.0 / 256;            // alpha EWMA gain
  double initial_alpha = 1.0;      // alpha used by the first rate cut
  Nanos alpha_period = 55_us;      // K: alpha decays by (1-g) per period without a CNP
  Nanos rate_period = 55_us;       // T: rate-increase timer period
  uint64_t byte_counter = 10000000;  // B: bytes sent per byte-counter increase event; 0 disables it
  uint32_t fast_recovery = 5;      // F: increase events per counter spent in fast recovery
  double rai_bps = 40e6;           // additive-increase step of the target rate
  double rhai_bps = 200e6;         // hyper-increase step (times the hyper stage i)
  double min_rate_bps = 100e6;     // the current rate never drops below this
  Nanos reduce_period = 50_us;     // at most one rate cut per period; CNPs in between are coalesced
  // true: every cut sets target = current (the paper). false: only if a timer-driven increase happened
  // since the previous cut (ConnectX clamp_tgt_rate=0, clamp_tgt_rate_after_time_inc=1).
  bool clamp_target = true;

  // --- notification point (receiver) ---
  Nanos cnp_interval = 50_us;      // N: at most one CNP per flow per interval

  // --- congestion point (switch) ---
  RedParams red{};

  bool operator==(const DcqcnParams&) const = default;

  // Throws std::invalid_argument naming the first inconsistent field.
  void validate() const;
};

// Zhu et al., "Congestion Control for Large-Scale RDMA Deployments", SIGCOMM 2015, and the authors'
// ns-3 model (bobzhuyb/ns3-rdma) for the values the paper leaves out.
DcqcnParams dcqcn_paper();
// NVIDIA ConnectX-4 and later firmware defaults, as documented by NVIDIA ("DCQCN Parameters").
DcqcnParams dcqcn_connectx();

// Parses "dcqcn[:key=value,...]". `preset` (paper | connectx) is applied first wherever it appears; every
// other key overrides one field. Throws rfab::spec::SpecError naming the bad key or value.
// Keys: preset g alpha0 alpha_period rate_period byte_counter f rai rhai min_rate reduce_period clamp
//       cnp_interval kmin kmax pmax
DcqcnParams parse_dcqcn(std::string_view spec);

// The spec that parse_dcqcn() turns back into `p` (every field, no preset).
std::string describe(const DcqcnParams& p);

}  // namespace rfab::cc
