// rfab's own `rfab perf` side-channel dialect: the parameters the client decides and the server adopts,
// sent as one "rfab-perf/1 key=value ..." text message, and the buffer layout both derive from them.
#pragma once
#include <cstdint>
#include <string>

#include "perf_options.hpp"
#include "rfab/rc/types.hpp"

namespace rfab::cli::perf {

inline constexpr uint64_t kPerfMemCap = 256ull << 20;  // bytes of message buffers per side

struct Params {
  Verb verb = Verb::write;
  uint64_t size = 0, iters = 0;
  double duration = 0;
  uint32_t qps = 1, mtu = 4096, spray = 1, depth = 128, slots = 1, rx_depth = 1;
  bool latency = false;
  uint64_t seed = 1;
  // Loss recovery both sides use: the client proposes, the server adopts. A client that does not say
  // (an older rfab) gets go-back-N.
  rc::LossRecovery recovery = rc::LossRecovery::go_back_n;
};

std::string encode(const Params& p);
// Throws ExitError{2} naming what is wrong with the client's message.
Params decode(const std::string& text);
// The client's parameters from its options (a fresh random seed for the data pattern).
Params from_options(const Options& o);

// The pattern seed of SEND slot `slot`.
inline uint64_t slot_seed(const Params& p, uint32_t slot) { return p.seed ^ (0x51ED5EEDull * (slot + 1)); }
// Regions of the side that is written to / read from: one per QP when they fit the memory cap.
inline uint32_t regions(const Params& p) { return p.size * p.qps <= kPerfMemCap ? p.qps : 1; }

}  // namespace rfab::cli::perf
