// Turning a test's completions into its figures: average and peak bandwidth (the best full 10 ms
// window), message rate, and latency percentiles.
#pragma once
#include <cstdint>
#include <vector>

#include "perf_options.hpp"
#include "rfab/base/time.hpp"

namespace rfab::cli::perf {

inline constexpr Nanos kBandwidthWindow = 10'000'000;  // peak bandwidth window: 10 ms

// Completions per kBandwidthWindow since the start of the transfer.
class CompletionBuckets {
 public:
  void add(Nanos since_start) {
    const size_t b = static_cast<size_t>(since_start / kBandwidthWindow);
    if (counts_.size() <= b) counts_.resize(b + 1, 0);
    ++counts_[b];
  }
  const std::vector<uint64_t>& counts() const { return counts_; }

 private:
  std::vector<uint64_t> counts_;
};

// Fills r.bw_avg_gbps, bw_peak_gbps, msg_rate_mpps from r.iterations messages of `bytes` in `elapsed`, and
// the latency fields from `lat_us` (sorted in place).
void summarize(Result& r, uint64_t bytes, const CompletionBuckets& buckets, std::vector<double>& lat_us,
               Nanos elapsed);

}  // namespace rfab::cli::perf
