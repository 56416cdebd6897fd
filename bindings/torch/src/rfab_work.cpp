#include "rfab_work.hpp"

#include <ATen/core/jit_type.h>

namespace rfab_torch {

RfabWork::RfabWork(int rank, c10d::OpType type, std::vector<at::Tensor> outputs)
    : c10d::Work(rank, type),
      outputs_(std::move(outputs)),
      // As gloo's: the value is the list of output tensors (DDP's hooks read value()[0]).
      future_(c10::make_intrusive<c10::ivalue::Future>(c10::ListType::create(c10::TensorType::get()))) {}

bool RfabWork::wait(std::chrono::milliseconds timeout) {
  if (wait_hook_) wait_hook_();
  return c10d::Work::wait(timeout);
}

void RfabWork::succeed() {
  // The future first: a thread returning from wait() may read it at once.
  future_->markCompleted(c10::IValue(outputs_));
  finish();
}

void RfabWork::fail(std::exception_ptr error) {
  future_->setError(error);
  finish(error);
}

}  // namespace rfab_torch
