#include "tensor_args.hpp"

#include <c10/util/Exception.h>

namespace rfab_torch {

rfabDataType_t rfab_dtype(const at::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case at::kChar:
      return rfabInt8;
    case at::kByte:
      return rfabUint8;
    case at::kInt:
      return rfabInt32;
    case at::kLong:
      return rfabInt64;
    case at::kHalf:
      return rfabFloat16;
    case at::kBFloat16:
      return rfabBfloat16;
    case at::kFloat:
      return rfabFloat32;
    case at::kDouble:
      return rfabFloat64;
    default:
      TORCH_CHECK(false, "rfab backend: ", what, " has dtype ", t.scalar_type(),
                  "; supported are float32, float64, float16, bfloat16, int8, uint8, int32, int64");
  }
}

rfabRedOp_t rfab_op(const c10d::ReduceOp& op) {
  switch (op.op_) {
    case c10d::ReduceOp::SUM:
      return rfabSum;
    case c10d::ReduceOp::AVG:
      return rfabAvg;
    case c10d::ReduceOp::PRODUCT:
      return rfabProd;
    case c10d::ReduceOp::MIN:
      return rfabMin;
    case c10d::ReduceOp::MAX:
      return rfabMax;
    default:
      TORCH_CHECK(false, "rfab backend: reduce op ", static_cast<int>(op.op_),
                  " (BAND, BOR, BXOR or PREMUL_SUM) is not supported; use SUM, AVG, PRODUCT, MIN or MAX");
  }
}

const at::Tensor& single_tensor(const std::vector<at::Tensor>& tensors, const char* what) {
  TORCH_CHECK(tensors.size() == 1, "rfab backend: ", what, " takes exactly one tensor per process, got ",
              tensors.size());
  check_cpu(tensors[0], what);
  return tensors[0];
}

void check_cpu(const at::Tensor& t, const char* what) {
  TORCH_CHECK(t.defined(), "rfab backend: ", what, " is an undefined tensor");
  TORCH_CHECK(t.device().is_cpu(), "rfab backend: ", what, " is on ", t.device(),
              "; rfab moves host memory only (use CPU tensors)");
  TORCH_CHECK(t.layout() == at::kStrided, "rfab backend: ", what,
              " is a sparse tensor; only dense tensors are supported");
  (void)rfab_dtype(t, what);
}

void check_same_shape(const std::vector<at::Tensor>& tensors, const at::Tensor& like, const char* what) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    check_cpu(tensors[i], what);
    TORCH_CHECK(tensors[i].scalar_type() == like.scalar_type(), "rfab backend: ", what, "[", i,
                "] has dtype ", tensors[i].scalar_type(), ", the input has ", like.scalar_type());
    TORCH_CHECK(tensors[i].numel() == like.numel(), "rfab backend: ", what, "[", i, "] has ",
                tensors[i].numel(), " elements, the input has ", like.numel());
  }
}

Staged::Staged(at::Tensor t) : target_(std::move(t)) {
  buffer_ = target_.is_contiguous() ? target_ : target_.contiguous();
}

void Staged::finish() {
  if (!buffer_.is_same(target_)) target_.copy_(buffer_);
}

}  // namespace rfab_torch
