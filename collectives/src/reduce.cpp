// Runtime ISA dispatch for the reduction kernels, and the final division of Avg.
#include <cpuid.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "env_config.hpp"
#include "reduce_table.hpp"
#include "rfab/collectives/half.hpp"

namespace rfab::coll {
namespace {

struct Tables {
  ReduceTable generic{};
  ReduceTable avx2{};
  ReduceTable avx512{};
  // Each fill_table is compiled with its ISA's flags, so even filling a table may execute that ISA (GCC
  // vectorises isa_avx512's pointer stores with AVX-512): a CPU without it died with SIGILL here, before
  // any reduction (seen in the soft-RoCE lab's TCG guests). Tables the CPU cannot run stay empty.
  Tables() {
    isa_generic::fill_table(generic);
    if (isa_supported(Isa::Avx2)) isa_avx2::fill_table(avx2);
    if (isa_supported(Isa::Avx512)) isa_avx512::fill_table(avx512);
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

template <class T>
void div_int(void* p, size_t n, int nranks) {
  T* d = static_cast<T*>(p);
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<T>(d[i] / static_cast<T>(nranks));
}

}  // namespace

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Generic: return "generic";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

// CPUID leaf 1's ECX feature bit (F16C, FMA): clang's __builtin_cpu_supports does not know "f16c".
static bool cpuid1_ecx(unsigned bit) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) != 0 && (c & bit) != 0;
}

bool isa_supported(Isa isa) {
  switch (isa) {
    case Isa::Generic: return true;
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && cpuid1_ecx(bit_F16C) && cpuid1_ecx(bit_FMA);
    case Isa::Avx512: return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                             __builtin_cpu_supports("avx512vl") && isa_supported(Isa::Avx2);
  }
  return false;
}

Isa best_isa() {
  static const Isa best = [] {
    if (const auto v = from_env([] { return env::get_choice("RFAB_ISA", {"generic", "avx2", "avx512"}); })) {
      for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512})
        if (isa_name(i) == *v) {
          if (!isa_supported(i))
            throw Error(Status::InvalidArgument, "RFAB_ISA=" + *v + ": not supported by this CPU");
          return i;
        }
    }
    if (isa_supported(Isa::Avx512)) return Isa::Avx512;
    if (isa_supported(Isa::Avx2)) return Isa::Avx2;
    return Isa::Generic;
  }();
  return best;
}

ReduceFn reduce_fn(DataType t, RedOp op, Isa isa) {
  const auto& tb = tables();
  const ReduceTable& table = isa == Isa::Avx512 ? tb.avx512 : isa == Isa::Avx2 ? tb.avx2 : tb.generic;
  return table[static_cast<int>(t)][static_cast<int>(op)];
}

void finish_avg(void* dst, size_t n, DataType t, int nranks) {
  switch (t) {
    case DataType::I8: return div_int<int8_t>(dst, n, nranks);
    case DataType::U8: return div_int<uint8_t>(dst, n, nranks);
    case DataType::I32: return div_int<int32_t>(dst, n, nranks);
    case DataType::U32: return div_int<uint32_t>(dst, n, nranks);
    case DataType::I64: return div_int<int64_t>(dst, n, nranks);
    case DataType::U64: return div_int<uint64_t>(dst, n, nranks);
    case DataType::F32: {
      float* d = static_cast<float*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] /= static_cast<float>(nranks);
      return;
    }
    case DataType::F64: {
      double* d = static_cast<double*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] /= static_cast<double>(nranks);
      return;
    }
    case DataType::F16:
    case DataType::BF16: {
      uint16_t* d = static_cast<uint16_t*>(dst);
      bool bf = t == DataType::BF16;
      for (size_t i = 0; i < n; ++i) {
        float f = (bf ? bf16_to_float(d[i]) : half_to_float(d[i])) / static_cast<float>(nranks);
        d[i] = bf ? float_to_bf16(f) : float_to_half(f);
      }
      return;
    }
  }
}

}  // namespace rfab::coll
