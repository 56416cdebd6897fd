// rfab's own `rfab perf` side-channel dialect: the parameters the client decides and the server adopts,
// sent as one "rfab-perf/1 key=value ..." text message, the buffer layout both derive from them, and the
// client's result line at the end. Everything a server reads here comes from a peer it does not trust:
// decode() parses strictly and check_params() holds the values against the server's own limits, so a
// hostile or broken client gets a refusal naming the problem instead of an allocation or a crash.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "perf_options.hpp"
#include "rfab/rc/types.hpp"

namespace rfab::cli::perf {

inline constexpr uint64_t kPerfMemCap = 256ull << 20;  // bytes of message buffers per side
inline constexpr size_t kMaxParamsMessage = 4096;      // the parameter message, in bytes

// The limits a server holds every client to (and a client its own options, before it connects).
// Each matches the range the command line accepts.
inline constexpr uint64_t kMaxMessageSize = 1ull << 31;
inline constexpr uint64_t kMaxIters = 1ull << 40;
inline constexpr double kMaxDurationSeconds = 7 * 86400;
inline constexpr uint32_t kMaxQps = 1024, kMaxSpray = 256, kMaxDepth = 4096;
inline constexpr uint64_t kDefaultMaxMemory = 4ull << 30;  // --max-memory default

// A parameter message that is malformed or out of range; what() names the key and the value.
class ParamsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

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
// Parses the client's message: the magic, then every key exactly once (recovery may be absent), each a
// number in range for its field. Throws ParamsError naming the first problem.
Params decode(std::string_view text);
// Bytes of message buffers side `server` (or the client) allocates for `p`; nullopt when the product
// overflows 64 bits (it is then above any limit).
std::optional<uint64_t> buffer_bytes(const Params& p, bool server);
// An upper estimate of the memory either side's QPs take besides the buffers: queues, completion queues and
// per-QP state of the engine (measured: about 8 KiB a QP, 180 B a send and 100 B a receive queue entry).
uint64_t queue_bytes(const Params& p);
// What a side needs in all: buffers and queues; nullopt on overflow.
std::optional<uint64_t> memory_bytes(const Params& p, bool server);
// "2.0 GiB", "128.1 MiB": a memory estimate for a message.
std::string approx_size(uint64_t bytes);
// Throws ParamsError when `p` is outside the protocol's ranges or the server's buffers and queues would
// exceed `max_memory` (the message says how much it would need and what the limit is).
void check_params(const Params& p, uint64_t max_memory);
// The client's parameters from its options (a fresh random seed for the data pattern).
Params from_options(const Options& o);

// The client's last message: "done|failed N0 N1 ... PEAK AVG RATE" (operations completed per QP, then
// the bandwidth figures it measured).
struct ResultLine {
  bool done = false;
  std::vector<uint64_t> completed;  // one per QP
  double bw_peak_gbps = 0, bw_avg_gbps = 0, msg_rate_mpps = 0;
};
std::string encode_result(const ResultLine& r);
// Throws ParamsError unless `text` holds exactly `qps` counts (each at most `max_per_qp`) and three
// finite, non-negative figures.
ResultLine decode_result(std::string_view text, uint32_t qps, uint64_t max_per_qp);

// The pattern seed of SEND slot `slot`.
inline uint64_t slot_seed(const Params& p, uint32_t slot) { return p.seed ^ (0x51ED5EEDull * (slot + 1)); }
// Regions of the side that is written to / read from: one per QP when they fit the memory cap.
inline uint32_t regions(const Params& p) { return p.size * p.qps <= kPerfMemCap ? p.qps : 1; }

}  // namespace rfab::cli::perf
