// Reduction kernels for the generic ISA level (flags set per file in CMakeLists.txt).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "reduce_table.hpp"
#include "rfab/collectives/half.hpp"

namespace rfab::coll::isa_generic {
#include "reduce_kernels.inc"
}  // namespace rfab::coll::isa_generic
