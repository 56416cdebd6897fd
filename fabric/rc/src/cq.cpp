#include "rfab/rc/cq.hpp"

#include <stdexcept>

namespace rfab::rc {

CompletionQueue::CompletionQueue(size_t capacity) {
  if (capacity == 0 || capacity > (size_t{1} << 24))
    throw std::invalid_argument("CompletionQueue: capacity must be 1..2^24");
  ring_.resize(capacity);
}

size_t CompletionQueue::poll(std::span<WorkCompletion> out) {
  size_t n = 0;
  while (n < out.size() && count_ > 0) {
    out[n++] = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
    --count_;
  }
  return n;
}

bool CompletionQueue::push(const WorkCompletion& wc) {
  if (count_ == ring_.size()) {
    overrun_ = true;
    return false;
  }
  ring_[(head_ + count_) % ring_.size()] = wc;
  ++count_;
  return true;
}

}  // namespace rfab::rc
