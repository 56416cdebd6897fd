// What `rfab ping` measured: per pair (source host probing destination host) and per entropy (UDP source
// port, i.e. ECMP path) the probes sent and lost and the round-trip times; a row (one source's pairs)
// travels between agents as JSON so that every agent can judge the whole matrix.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rfab::cli::ping {

// Round-trip times of the probes that were not lost, in microseconds.
struct Latency {
  uint64_t samples = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};
// Nearest-rank quantiles (the value of a probe that was really seen, never an interpolation).
Latency summarize(std::vector<double> rtt_us);

struct EntropyResult {
  uint16_t src_port = 0;  // the probes' UDP source port (the entropy ECMP hashes)
  uint64_t sent = 0;      // probe slots: each is one probe, or counted lost when none could be sent
  uint64_t lost = 0;
  // Why they were lost (they add up to `lost`): resent = completed only after the engine resent it (the
  // request or its ACK went missing, or came later than the ACK timeout); late = not completed within
  // the probe timeout; failed = the QP failed (or the peer was unreachable), so the probe could not go.
  uint64_t resent = 0, late = 0, failed = 0;
  Latency rtt;
  double loss() const { return sent == 0 ? 0.0 : static_cast<double>(lost) / static_cast<double>(sent); }
};

struct PairResult {
  size_t src = 0, dst = 0;  // host indices in the list
  bool reached = false;     // the destination's agent answered on the side channel
  std::string error;        // why not, or why its QPs failed
  std::vector<EntropyResult> entropies;
  Latency rtt;  // over all entropies
  uint64_t sent() const;
  uint64_t lost() const;
};

// The mesh as one agent knows it: every pair of every row that arrived (its own and its peers').
struct Matrix {
  std::vector<std::string> hosts;
  std::vector<bool> reported;  // host i's row is in `pairs`
  std::vector<PairResult> pairs;
};

nlohmann::json to_json(const PairResult& p);
// Throws std::invalid_argument when `j` is not a pair of `n_hosts` hosts (a peer's report is untrusted).
PairResult pair_from_json(const nlohmann::json& j, size_t n_hosts);

}  // namespace rfab::cli::ping
