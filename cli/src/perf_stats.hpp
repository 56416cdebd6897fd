// Turning a test's completions into its figures: average and peak bandwidth (the best full 10 ms
// window), message rate, and latency percentiles.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "perf_options.hpp"
#include "rfab/base/time.hpp"

namespace rfab::cli::perf {

inline constexpr Nanos kBandwidthWindow = 10'000'000;  // peak bandwidth window: 10 ms

// Bytes moved per kBandwidthWindow since the start of the transfer. A completion reports a whole message at
// one instant, but its bytes crossed the wire over the time the queue pair spent on it: counting them at
// the instant made one 2 GiB message completing inside a 10 ms window read as 1.7 Tb/s. So each completion
// is spread evenly over the interval since the same QP's previous completion (or since its first
// outstanding post): a QP's messages go in order, so those intervals tile the time it was busy.
//
// What remains is when completions are seen: a poll sees them up to one poll interval after they happened,
// which can shift up to that much of the transfer into a window. The peak is therefore taken over the
// window plus the longest poll interval seen, so it is never above what the path could carry.
class CompletionBuckets {
 public:
  void add(Nanos begin, Nanos end, double bytes);
  // Every poll of the completion queue, at `now` since the start.
  void polled(Nanos now) {
    max_poll_gap_ = std::max(max_poll_gap_, now - last_poll_);
    last_poll_ = now;
  }
  const std::vector<double>& bytes() const { return bytes_; }
  Nanos max_poll_gap() const { return max_poll_gap_; }

 private:
  std::vector<double> bytes_;
  Nanos last_poll_ = 0, max_poll_gap_ = 0;
};

// When each QP's current message began to occupy it: its post if the QP was idle, else the poll that saw
// the previous completion.
class BusyIntervals {
 public:
  explicit BusyIntervals(size_t qps) : since_(qps, 0), busy_(qps, false) {}
  // A post on `q` at `now` (since the start): starts its interval if it had nothing outstanding.
  void posted(size_t q, Nanos now) {
    if (!busy_[q]) since_[q] = now;
    busy_[q] = true;
  }
  // `bytes` completed on `q`, seen by the poll at `now`; `idle` when nothing is outstanding on it any more.
  void completed(CompletionBuckets& b, size_t q, Nanos now, double bytes, bool idle) {
    b.add(since_[q], now, bytes);
    since_[q] = now;
    busy_[q] = !idle;
  }

 private:
  std::vector<Nanos> since_;
  std::vector<bool> busy_;
};

// Fills r.bw_avg_gbps, msg_rate_mpps from r.iterations messages of `bytes` in `elapsed`, bw_peak_gbps from
// the best full window of `buckets` (never below the average), and the latency fields from `lat_us`
// (sorted in place).
void summarize(Result& r, uint64_t bytes, const CompletionBuckets& buckets, std::vector<double>& lat_us,
               Nanos elapsed);

}  // namespace rfab::cli::perf
