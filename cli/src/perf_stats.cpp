#include "perf_stats.hpp"

#include <algorithm>
#include <cmath>

namespace rfab::cli::perf {

void summarize(Result& r, uint64_t bytes_per_msg, const CompletionBuckets& buckets, std::vector<double>& lat,
               Nanos elapsed) {
  const double secs = static_cast<double>(elapsed) / 1e9;
  const double bytes = static_cast<double>(r.iterations) * static_cast<double>(bytes_per_msg);
  r.bw_avg_gbps = secs > 0 ? bytes * 8 / secs / 1e9 : 0;
  r.msg_rate_mpps = secs > 0 ? static_cast<double>(r.iterations) / secs / 1e6 : 0;
  r.bw_peak_gbps = r.bw_avg_gbps;
  const auto& b = buckets.counts();
  if (b.size() >= 3) {  // full windows only (the first and last are partial)
    uint64_t best = 0;
    for (size_t i = 1; i + 1 < b.size(); ++i) best = std::max(best, b[i]);
    r.bw_peak_gbps = std::max(r.bw_avg_gbps, static_cast<double>(best) * static_cast<double>(bytes_per_msg) * 8 /
                                                 (static_cast<double>(kBandwidthWindow) / 1e9) / 1e9);
  }
  if (lat.empty()) return;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) { return lat[std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())))]; };
  r.t_min = lat.front();
  r.t_max = lat.back();
  r.t_typical = pct(0.5);
  double sum = 0, sq = 0;
  for (double v : lat) sum += v;
  r.t_avg = sum / static_cast<double>(lat.size());
  for (double v : lat) sq += (v - r.t_avg) * (v - r.t_avg);
  r.t_stdev = std::sqrt(sq / static_cast<double>(lat.size()));
  r.p99 = pct(0.99);
  r.p999 = pct(0.999);
}

}  // namespace rfab::cli::perf
