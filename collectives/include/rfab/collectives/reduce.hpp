// Element-wise reduction kernels: dst[i] = a[i] (op) b[i]. Compiled three times (generic, AVX2+F16C,
// AVX-512) and chosen at run time by CPUID; fp16 and bf16 are widened to fp32 for the arithmetic.
// Integer sum/prod wrap modulo 2^bits (defined behaviour, identical on every rank). Avg reduces as Sum;
// the caller divides once at the end with finish_avg().
#pragma once
#include <cstddef>
#include <string_view>

#include "rfab/collectives/types.hpp"

namespace rfab::coll {

using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t count);

enum class Isa : uint8_t { Generic, Avx2, Avx512 };
std::string_view isa_name(Isa isa);
// Best ISA this CPU supports (or RFAB_ISA=generic|avx2|avx512 when set and supported).
Isa best_isa();
bool isa_supported(Isa isa);

ReduceFn reduce_fn(DataType t, RedOp op, Isa isa);
inline ReduceFn reduce_fn(DataType t, RedOp op) { return reduce_fn(t, op, best_isa()); }

// dst[i] = dst[i] / nranks, for RedOp::Avg (integers truncate toward zero).
void finish_avg(void* dst, size_t count, DataType t, int nranks);

}  // namespace rfab::coll
