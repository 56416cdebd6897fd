// The collectives read their environment variables through rfab/base/env.hpp; its errors (EnvError, a
// ParseError) become Error(Status::InvalidArgument) with the same message, which the C API reports.
#pragma once
#include "rfab/base/env.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

template <class F>
auto from_env(F&& read) {
  try {
    return read();
  } catch (const ParseError& e) {
    throw Error(Status::InvalidArgument, e.what());
  }
}

}  // namespace rfab::coll
