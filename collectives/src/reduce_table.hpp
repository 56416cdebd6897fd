// Internal: one table of kernels per ISA, indexed [datatype][op].
#pragma once
#include "rfab/collectives/reduce.hpp"

namespace rfab::coll {
using ReduceTable = ReduceFn[kNumDataTypes][kNumRedOps];
namespace isa_generic {
void fill_table(ReduceTable& t);
}
namespace isa_avx2 {
void fill_table(ReduceTable& t);
}
namespace isa_avx512 {
void fill_table(ReduceTable& t);
}
}  // namespace rfab::coll
