// The eBPF collector's counting (telemetry/bpf/rfab_roce.bpf.c: rfab_handle, rfab_account,
// rfab_track_psn) for collectors that get whole frames in user space, such as a DPDK port: the same
// parsing (Ethernet, up to two VLAN tags, IPv4 without fragments / IPv6 without extension headers, UDP to
// the RoCE port), the same per-flow and per-direction counters in the same structures (bpf_types.h), the
// same opcode classes, NAK kinds, entropy table and CNP burst rule, the same notable events, and the PSN
// window's very step (psn_window_step.h). One thread counts; snapshot() reads what it counted so far.
#pragma once
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "rfab/telemetry/collector.hpp"

namespace rfab::telemetry {

// The class (enum rfab_op_class) of a BTH opcode, by the rules the build uses for the eBPF programs' table
// (telemetry/bpf/opcode_classes_gen.cpp): UC, UD and XRC opcodes by RC's layout.
uint8_t opcode_class(uint8_t opcode);
bool opcode_class_is_request(uint8_t cls);

struct FrameCounterConfig {
  uint16_t roce_port = 4791;
  uint32_t flow_capacity = 16384;
  uint64_t hole_timeout_ns = RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT;
  uint64_t cnp_burst_window_ns = 1'000'000;
  uint32_t cnp_burst_threshold = 8;
};

class FrameCounter {
 public:
  explicit FrameCounter(const FrameCounterConfig& c);
  // One frame (from the Ethernet header, no FCS) seen at now_ns (CLOCK_MONOTONIC) in direction `dir`.
  void count(std::span<const uint8_t> frame, uint64_t now_ns, uint8_t dir = RFAB_DIR_INGRESS);
  // The flows (sorted by key, packets summed from the opcode classes, entropy merged, outstanding holes)
  // and totals, as Collector::snapshot() returns them.
  CollectorSnapshot snapshot() const;
  // Notable events since the last call.
  std::vector<Event> take_events();

 private:
  struct KeyHash {
    size_t operator()(const rfab_flow_key& k) const;
  };
  struct KeyEq {
    bool operator()(const rfab_flow_key& a, const rfab_flow_key& b) const;
  };
  struct Flow {
    rfab_flow_stats stats{};
    rfab_psn_window window{};
  };
  Flow* flow(rfab_totals& t, const rfab_flow_key& key);
  void emit(const rfab_flow_key& key, uint32_t type, uint32_t psn, uint32_t expected, uint32_t value, uint64_t now);
  void track_psn(rfab_totals& t, Flow& f, const rfab_flow_key& key, uint32_t psn, bool is_read, uint64_t now);

  FrameCounterConfig c_;
  std::array<rfab_totals, RFAB_DIR_COUNT> totals_{};
  std::unordered_map<rfab_flow_key, uint32_t, KeyHash, KeyEq> index_;
  std::vector<Flow> flows_;
  uint32_t last_ = UINT32_MAX;  // the flow of the previous packet: a stream's packets mostly repeat it
  std::vector<Event> events_;
};

}  // namespace rfab::telemetry
