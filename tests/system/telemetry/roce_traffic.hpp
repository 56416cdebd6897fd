// Known RoCE v2 traffic for the collector tests: frames built with rfab's encoder, and what a correct
// collector must count for them (written out by hand in roce_traffic.cpp, not computed by a tracker).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rfab/telemetry/bpf_types.h"

namespace rfab::test {

struct ExpectedFlow {
  std::string src, dst;  // as format_addr prints them
  uint32_t qp = 0;
  uint64_t packets = 0, bytes = 0;
  std::array<uint64_t, RFAB_OPC_COUNT> op{};
  uint64_t ce = 0, cnps = 0;
  std::array<uint64_t, RFAB_NAK_COUNT> naks{};
  uint64_t gaps = 0, lost = 0, backwards = 0;
};

struct Plan {
  std::vector<std::vector<uint8_t>> frames;  // in injection order
  std::vector<ExpectedFlow> flows;
  uint64_t roce_packets = 0, roce_bytes = 0, not_roce = 0, malformed = 0;
  uint64_t ce = 0, cnps = 0, naks = 0, gaps = 0, lost = 0, backwards = 0;
  unsigned nak_events = 0, gap_events = 0, cnp_burst_events = 0;  // with a CNP burst threshold of 8
  const ExpectedFlow* find(const std::string& src, const std::string& dst, uint32_t qp) const;
};

// `per_qp` packets on each of the plain in-order QPs (at least 8).
Plan make_plan(unsigned per_qp);

// Jumbo frames (a 4096-byte path MTU) on QP 0x900: in-order WRITEs, one CE-marked, then two PSNs skipped
// and one of them resent. Needs an MTU of at least 4200 on the veth.
Plan make_jumbo_plan();

// Only in-order SENDs on `qps` QPs, `per_qp` each, `payload` bytes per packet (for validate / bench).
Plan make_clean_plan(unsigned qps, unsigned per_qp, size_t payload);

// In-order SENDs, one packet per QP per round (QP 0, 1, .., qps-1, then again): with more QPs than the
// collector's per-CPU flow cache has slots, every packet evicts another flow's cache entry.
Plan make_round_robin_plan(unsigned qps, unsigned rounds, size_t payload);

}  // namespace rfab::test
