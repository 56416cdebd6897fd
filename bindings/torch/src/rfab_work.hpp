// The Work object of one rfab operation: completed by the process group's worker thread, with a future whose
// value is the operation's output tensors (DDP's gradient-bucket hooks chain on it).
#pragma once
#include <ATen/core/ivalue.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <exception>
#include <vector>

namespace rfab_torch {

class RfabWork : public c10d::Work {
 public:
  RfabWork(int rank, c10d::OpType type, std::vector<at::Tensor> outputs);

  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }
  std::vector<at::Tensor> result() override { return outputs_; }
  // Work::wait (the base class) waits for finish() and rethrows the error, with or without a timeout.

  // Called once by the worker thread.
  void succeed();
  void fail(std::exception_ptr error);

 private:
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
};

}  // namespace rfab_torch
