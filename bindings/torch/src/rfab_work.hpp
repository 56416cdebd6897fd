// The Work object of one rfab operation: completed by the process group's worker thread, with a future whose
// value is the operation's output tensors (DDP's gradient-bucket hooks chain on it).
#pragma once
#include <ATen/core/ivalue.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <exception>
#include <functional>
#include <vector>

namespace rfab_torch {

class RfabWork : public c10d::Work {
 public:
  RfabWork(int rank, c10d::OpType type, std::vector<at::Tensor> outputs);

  c10::intrusive_ptr<c10::ivalue::Future> getFuture() override { return future_; }
  std::vector<at::Tensor> result() override { return outputs_; }
  // Calls the wait hook (a held-back point-to-point operation is released), then Work::wait: waits for
  // finish() and rethrows the error, with or without a timeout.
  bool wait(std::chrono::milliseconds timeout) override;
  void set_wait_hook(std::function<void()> hook) { wait_hook_ = std::move(hook); }

  // Called once by the worker thread.
  void succeed();
  void fail(std::exception_ptr error);

 private:
  std::vector<at::Tensor> outputs_;
  c10::intrusive_ptr<c10::ivalue::Future> future_;
  std::function<void()> wait_hook_;
};

}  // namespace rfab_torch
