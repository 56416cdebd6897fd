// One side of an `rfab perf` test: TCP handshake (perftest's key exchange), RC QPs over the UDP driver,
// the transfer, and the data check. Throws ExitError{2} for setup errors and ExitError{1} when the
// transfer fails (completion error, no progress, data mismatch).
#pragma once
#include "perf_options.hpp"

namespace rfab::cli::perf {

Result run_session(const Options& o);

}  // namespace rfab::cli::perf
