// Conversions between rfab's RC types and libibverbs' (used by the endpoint layer's verbs device): one
// definition, one set of error texts.
#pragma once
#include <infiniband/verbs.h>

#include <cstdint>

#include "rfab/rc/types.hpp"

namespace rfab::verbs {

// Path MTU in bytes (256..4096) as libibverbs' enum; anything else maps to 1024, the RoCE default.
ibv_mtu to_ibv_mtu(uint32_t bytes);

// The errno of a failed ibv_post_send / ibv_post_recv as an rfab status naming the likely cause.
rc::Status post_error(int err);

}  // namespace rfab::verbs
