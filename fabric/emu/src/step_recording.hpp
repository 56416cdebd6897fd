// What the step recorders share (step_traffic.cpp records one collective, step_training.cpp a training
// step's program): buffers that cannot be touched, a ScheduleRecorder that appends to a RecordedSchedule,
// and the library's algorithm calls by name.
#pragma once
#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "rfab/collectives/algorithms.hpp"
#include "rfab/emu/step_traffic.hpp"

namespace rfab::emu::detail {

inline constexpr size_t kElem = 4;  // float32 gradients and activations

// Address space with no access: what the recorded algorithms get as buffers. Any touch would fault, so a
// recording that ran proves the schedule code moved no data.
class Reserved {
 public:
  explicit Reserved(size_t bytes) : bytes_(std::max<size_t>(bytes, 4096)) {
    p_ = mmap(nullptr, bytes_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p_ == MAP_FAILED) throw TrafficError("step: cannot reserve " + std::to_string(bytes_) + " bytes of address space");
  }
  ~Reserved() { munmap(p_, bytes_); }
  Reserved(const Reserved&) = delete;
  Reserved& operator=(const Reserved&) = delete;
  std::byte* get() const { return static_cast<std::byte*>(p_); }

 private:
  size_t bytes_;
  void* p_;
};

class Recorder : public coll::ScheduleRecorder {
 public:
  explicit Recorder(RecordedSchedule& s) : s_(s) {}
  uint32_t rank = 0;
  uint8_t phase = 0;  // RecordedSchedule::phase_names index of what the rank runs now
  void exchange(const coll::RecordedOp* ops, size_t n) override {
    if (s_.ops.size() + n > 2 * kMaxMatrixFlows)
      throw TrafficError("step: the schedule has more than " + std::to_string(kMaxMatrixFlows) +
                         " transfers (at rank " + std::to_string(rank) + " of " + std::to_string(s_.ranks) +
                         "); use an algorithm with fewer steps (rhd, tree, or hier with inter=rhd|tree)");
    s_.ops.insert(s_.ops.end(), ops, ops + n);
    s_.exchange_first.push_back(s_.ops.size());
    s_.exchange_rank.push_back(rank);
    s_.exchange_phase.push_back(phase);
  }

 private:
  RecordedSchedule& s_;
};

inline coll::Group group_of(std::vector<int> ranks, int me) {
  coll::Group g;
  g.ranks = std::move(ranks);
  g.me = me;
  return g;
}

// An AlgoCtx that records float32 sums into `env` (whose recorder is set), with scratch from `scratch`.
inline coll::AlgoCtx recording_ctx(const coll::EngineEnv& env, std::string what,
                                   std::vector<std::unique_ptr<Reserved>>& scratch) {
  coll::AlgoCtx ctx;
  ctx.env = &env;
  ctx.dtype = coll::DataType::F32;
  ctx.elem = kElem;
  ctx.fn = coll::reduce_fn(coll::DataType::F32, coll::RedOp::Sum);  // never called: nothing is received
  ctx.what = std::move(what);
  ctx.scratch = [&scratch](size_t bytes, int) {
    scratch.push_back(std::make_unique<Reserved>(bytes));
    return scratch.back()->get();
  };
  return ctx;
}

// The library's flat allreduce `algo` (ring, rhd, rd or tree) on group g.
inline void flat_allreduce(const coll::AlgoCtx& c, const std::string& algo, const coll::Group& g, const void* in,
                           void* out, size_t count) {
  if (algo == "ring") coll::allreduce_ring(c, g, in, out, count);
  else if (algo == "rhd") coll::allreduce_rhd(c, g, in, out, count);
  else if (algo == "rd") coll::allreduce_rd(c, g, in, out, count);
  else if (algo == "tree") coll::allreduce_tree(c, g, in, out, count);
  else throw TrafficError("step: '" + algo + "' is not a flat allreduce of the library (ring, rhd, rd, tree)");
}

}  // namespace rfab::emu::detail
