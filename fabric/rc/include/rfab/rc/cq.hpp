// Completion queue: a fixed-capacity ring of work completions (allocated once at creation). Completions
// are pushed by the QPs that use the CQ and drained by poll(). A push into a full CQ is an overrun: the
// completion is lost, overrun() becomes true (IBTA's CQ-overrun asynchronous error) and stays true.
// Size CQs for the sum of the send/receive queue depths of the QPs that share them.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "rfab/rc/types.hpp"

namespace rfab::rc {

class CompletionQueue {
 public:
  // Throws std::invalid_argument for capacity 0 or > 2^24.
  explicit CompletionQueue(size_t capacity);

  // ibv_poll_cq: move up to out.size() completions into `out`, oldest first. Returns how many.
  size_t poll(std::span<WorkCompletion> out);
  size_t size() const { return count_; }
  size_t capacity() const { return ring_.size(); }
  bool empty() const { return count_ == 0; }
  bool overrun() const { return overrun_; }

  // For QPs: append one completion; false (and overrun()) when full.
  bool push(const WorkCompletion& wc);

 private:
  std::vector<WorkCompletion> ring_;
  size_t head_ = 0;  // oldest
  size_t count_ = 0;
  bool overrun_ = false;
};

// ibverbs-shaped spelling: poll_cq(cq, n, wc) == cq.poll({wc, n}).
inline int poll_cq(CompletionQueue& cq, int num_entries, WorkCompletion* wc) {
  if (num_entries <= 0) return 0;
  return static_cast<int>(cq.poll(std::span<WorkCompletion>(wc, static_cast<size_t>(num_entries))));
}

}  // namespace rfab::rc
