#include "rfab/emu/step_breakdown.hpp"

#include <stdexcept>
#include <utility>

namespace rfab::emu {

StepBreakdown step_breakdown(const Traffic& t, const std::vector<Picos>& started, const std::vector<Picos>& done) {
  StepBreakdown b;
  const size_t n = t.flows.size();
  if (t.phase_names.empty() || t.phase.size() != n || n == 0) return b;
  if (started.size() != n || done.size() != n) throw std::invalid_argument("step breakdown: times do not match the flows");
  uint32_t last = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (done[i] == kNeverPs) return b;
    if (done[i] > done[last]) last = i;
  }
  // Categories: phase x (fabric, NVLink).
  const size_t P = t.phase_names.size();
  std::vector<PhaseTime> cat(2 * P);
  for (size_t p = 0; p < P; ++p) {
    cat[2 * p].phase = t.phase_names[p] + " (fabric)";
    cat[2 * p + 1].phase = t.phase_names[p] + " (NVLink)";
  }
  auto category = [&](uint32_t f) -> PhaseTime& { return cat[2 * size_t(t.phase[f]) + (t.is_local(f) ? 1 : 0)]; };
  for (uint32_t i = 0; i < n; ++i) {
    if (t.phase[i] >= P) throw std::invalid_argument("step breakdown: flow " + std::to_string(i) + " has no phase");
    PhaseTime& c = category(i);
    ++c.flows;
    c.bytes += t.flows[i].bytes;
    c.first_start = std::min(c.first_start, started[i]);
    c.last_done = std::max(c.last_done, done[i]);
  }
  b.step = done[last];
  // Walk back along the latest dependency. Dependencies complete before their dependents start, so the walk
  // moves strictly back in flow order's partial order and ends at a flow that waited for nothing.
  std::vector<std::pair<uint32_t, size_t>> on_path;  // flow, category
  for (uint32_t f = last;;) {
    PhaseTime& c = category(f);
    on_path.emplace_back(f, size_t(&c - cat.data()));
    c.critical += done[f] - started[f];
    ++c.critical_flows;
    uint32_t pred = kNoFlow;
    auto consider = [&](uint32_t d) {
      if (pred == kNoFlow || done[d] > done[pred]) pred = d;
    };
    if (t.flows[f].after != kNoFlow) consider(t.flows[f].after);
    if (t.has_extra_deps())
      for (uint64_t k = t.dep_first[f]; k < t.dep_first[f + 1]; ++k) consider(t.deps[k]);
    if (pred == kNoFlow) {
      b.waiting += started[f];
      break;
    }
    b.waiting += started[f] - std::min(started[f], done[pred]);
    f = pred;
  }
  std::vector<uint32_t> index(cat.size(), 0);
  for (size_t i = 0; i < cat.size(); ++i)
    if (cat[i].flows) {
      index[i] = uint32_t(b.phases.size());
      b.phases.push_back(std::move(cat[i]));
    }
  for (auto it = on_path.rbegin(); it != on_path.rend(); ++it)
    b.path.push_back(PathSegment{started[it->first], done[it->first], index[it->second]});
  return b;
}

}  // namespace rfab::emu
