#include "perf_stats.hpp"

#include <algorithm>
#include <cmath>

namespace rfab::cli::perf {

void CompletionBuckets::add(Nanos begin, Nanos end, double bytes) {
  if (bytes <= 0) return;
  const auto last = static_cast<size_t>(end / kBandwidthWindow);
  if (bytes_.size() <= last) bytes_.resize(last + 1, 0.0);
  if (begin >= end) {  // a zero-length interval: nothing to spread over
    bytes_[last] += bytes;
    return;
  }
  const double per_ns = bytes / static_cast<double>(end - begin);
  for (auto b = static_cast<size_t>(begin / kBandwidthWindow); b <= last; ++b) {
    const Nanos lo = std::max<Nanos>(begin, static_cast<Nanos>(b) * kBandwidthWindow);
    const Nanos hi = std::min<Nanos>(end, static_cast<Nanos>(b + 1) * kBandwidthWindow);
    if (hi > lo) bytes_[b] += per_ns * static_cast<double>(hi - lo);
  }
}

void summarize(Result& r, uint64_t bytes_per_msg, const CompletionBuckets& buckets, std::vector<double>& lat,
               Nanos elapsed) {
  const double secs = static_cast<double>(elapsed) / 1e9;
  const double bytes = static_cast<double>(r.iterations) * static_cast<double>(bytes_per_msg);
  r.bw_avg_gbps = secs > 0 ? bytes * 8 / secs / 1e9 : 0;
  r.msg_rate_mpps = secs > 0 ? static_cast<double>(r.iterations) / secs / 1e6 : 0;
  r.bw_peak_gbps = r.bw_avg_gbps;
  const auto& b = buckets.bytes();
  if (b.size() >= 3) {  // full windows only (the first and last are partial)
    double best = 0;
    for (size_t i = 1; i + 1 < b.size(); ++i) best = std::max(best, b[i]);
    const double window_s = static_cast<double>(kBandwidthWindow + buckets.max_poll_gap()) / 1e9;
    r.bw_peak_gbps = std::max(r.bw_avg_gbps, best * 8 / window_s / 1e9);
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
