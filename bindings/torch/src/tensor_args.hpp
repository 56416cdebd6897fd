// Checks and conversions between torch's collective arguments and rfab's C API: dtypes, reduction ops,
// CPU tensors. Every refusal is a c10::Error (a RuntimeError in Python) naming the argument.
#pragma once
#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include <string>
#include <vector>

#include "rfab/rfab.h"

namespace rfab_torch {

// rfab's datatype for a tensor's dtype; refuses the ones rfab has no reduction for (bool, complex, ...).
rfabDataType_t rfab_dtype(const at::Tensor& t, const char* what);
// rfab's op for torch's; refuses BAND/BOR/BXOR and PREMUL_SUM.
rfabRedOp_t rfab_op(const c10d::ReduceOp& op);

// Exactly one tensor (one device per process, as c10d's CPU backends expect).
const at::Tensor& single_tensor(const std::vector<at::Tensor>& tensors, const char* what);
// A CPU tensor of a supported dtype.
void check_cpu(const at::Tensor& t, const char* what);
// Every tensor has `like`'s dtype and element count.
void check_same_shape(const std::vector<at::Tensor>& tensors, const at::Tensor& like, const char* what);

// A contiguous stand-in for a tensor the collective writes: the tensor itself when it is contiguous, else a
// contiguous copy that finish() writes back. Non-contiguous tensors thus work, at the cost of two copies.
class Staged {
 public:
  explicit Staged(at::Tensor t);
  at::Tensor& buffer() { return buffer_; }
  void* data() { return buffer_.data_ptr(); }
  size_t count() const { return static_cast<size_t>(buffer_.numel()); }
  void finish();  // copies the result back when a copy was made

 private:
  at::Tensor target_;
  at::Tensor buffer_;
};

}  // namespace rfab_torch
