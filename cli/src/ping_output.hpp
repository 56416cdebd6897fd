// `rfab ping`'s output: the matrix as a table, as JSON, and as Prometheus metrics (continuous mode).
#pragma once
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "ping_stats.hpp"
#include "ping_verdict.hpp"
#include "rfab/telemetry/metrics.hpp"

namespace rfab::cli::ping {

struct RunInfo {
  size_t self = 0;
  unsigned entropies = 0;
  uint64_t count = 0;
  uint32_t size = 0;
  std::string device;  // the device's name
};

// Latency matrix (p50/p99/max in us and loss per cell), the lossy entropies of each pair, the verdict.
void print_text(std::ostream& os, const Matrix& m, const Verdict& v, const RunInfo& info);
nlohmann::ordered_json to_json(const Matrix& m, const Verdict& v, const RunInfo& info);
// rfab_ping_probes_total / rfab_ping_lost_total {src,dst,entropy,sport}, rfab_ping_rtt_seconds
// {src,dst,quantile}, rfab_ping_reached {src,dst}.
void add_metrics(telemetry::Metrics& out, const Matrix& m);

}  // namespace rfab::cli::ping
