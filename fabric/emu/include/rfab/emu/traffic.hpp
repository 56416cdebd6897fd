// Traffic patterns as lists of flows. A flow may wait for another flow to complete (ring steps).
//   permutation:bytes=2M           every host sends to one other host; every host receives once
//   all-to-all:bytes=64K           every ordered pair (refused above 10 M flows: use a permutation)
//   incast:n=8,bytes=1M[,dst=0]    n senders (spread over other leaves first) to one receiver
//   ring:bytes=64M[,steps=S]       ring all-reduce: 2(H-1) steps (or S) of bytes/H chunks to the next host;
//                                  each step starts when the host has received the previous one
//   file:PATH                      connection matrix, one flow per line: src dst bytes start_time
// bytes=inf means a long-lived flow (sends until the end of the run); bytes=0 is refused.
// A connection matrix is bounded: at most kMaxMatrixBytes, kMaxMatrixFlows flows, kMaxMatrixLineBytes a line.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "rfab/emu/event_queue.hpp"
#include "rfab/topology/fat_tree.hpp"

namespace rfab::emu {

inline constexpr uint32_t kNoFlow = ~uint32_t{0};
inline constexpr uint64_t kUnlimited = 0;  // bytes value of a long-lived flow
inline constexpr size_t kMaxMatrixBytes = 256u << 20;    // a connection-matrix file, at most
inline constexpr size_t kMaxMatrixFlows = 10'000'000;    // as all-to-all and ring
inline constexpr size_t kMaxMatrixLineBytes = 4096;

struct FlowSpec {
  uint32_t src = 0, dst = 0;
  uint64_t bytes = kUnlimited;
  Picos start = 0;
  uint32_t after = kNoFlow;  // start only when this flow has been fully received (plus `start` delay)
};

// A flow list whose flows may wait for several others: flow i starts when FlowSpec::after and every flow in
// deps[dep_first[i], dep_first[i + 1]) have completed (plus its `start` delay). Collective schedules
// (step_traffic.hpp) need this: a rank's next phase waits for everything its previous one received.
struct Traffic {
  std::vector<FlowSpec> flows;
  std::vector<uint64_t> dep_first;  // empty (no extra dependencies) or flows.size() + 1 offsets into deps
  std::vector<uint32_t> deps;
  // Flows inside one server (GPU to GPU over NVLink, not the fabric): local[i] != 0. They may have
  // src == dst (two GPUs behind one NIC) and run at local_bps each, off the fabric's links.
  std::vector<uint8_t> local;
  double local_bps = 0;
  // A step's phases (step_breakdown.hpp): phase[i] indexes phase_names; both empty for other traffic.
  std::vector<uint8_t> phase;
  std::vector<std::string> phase_names;
  bool has_extra_deps() const { return !deps.empty(); }
  bool is_local(size_t i) const { return !local.empty() && local[i] != 0; }
};

struct TrafficError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<FlowSpec> permutation(uint32_t hosts, uint64_t bytes, uint64_t seed);
std::vector<FlowSpec> all_to_all(uint32_t hosts, uint64_t bytes);
std::vector<FlowSpec> incast(const topo::FatTree& tree, uint32_t senders, uint32_t dst, uint64_t bytes);
std::vector<FlowSpec> ring_allreduce(uint32_t hosts, uint64_t bytes, uint32_t steps);
// Parses a connection-matrix file; errors read "PATH:LINE: what is wrong".
std::vector<FlowSpec> read_matrix(const std::string& path, uint32_t hosts);
std::vector<FlowSpec> parse_matrix(std::string_view text, std::string_view name, uint32_t hosts);
// Builds a pattern from its spec string (see the header comment).
std::vector<FlowSpec> make_traffic(std::string_view spec, const topo::FatTree& tree, uint64_t seed);
// The same, for engines that take several dependencies per flow (Traffic).
Traffic make_any_traffic(std::string_view spec, const topo::FatTree& tree, uint64_t seed);

}  // namespace rfab::emu
