#include "rfab/congestion/notification_point.hpp"

#include <algorithm>

namespace rfab::cc {

bool CnpGenerator::on_ce(Nanos now, uint64_t flow) {
  ++stats_.ce_packets;
  if (interval_ == 0) {  // no rate limit: every CE packet gets a CNP and nothing needs remembering
    ++stats_.cnps;
    return true;
  }
  auto [it, inserted] = last_.try_emplace(flow, now);
  if (!inserted) {
    // `now` earlier than the stored time (a driver reordering calls) counts as within the interval.
    if (now < it->second || now - it->second < interval_) return false;
    it->second = now;
  } else if (last_.size() >= sweep_at_) {
    expire(now);
    sweep_at_ = std::max(kMinSweep, 2 * last_.size());
  }
  ++stats_.cnps;
  return true;
}

void CnpGenerator::expire(Nanos now) {
  std::erase_if(last_, [&](const auto& kv) { return now >= kv.second && now - kv.second >= interval_; });
}

}  // namespace rfab::cc
