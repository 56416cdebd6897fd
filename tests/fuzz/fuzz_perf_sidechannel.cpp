// Feeds arbitrary bytes to every parser an `rfab perf` server runs on what a client sends: the rfab-perf/1
// parameter message and its limits check, the client's result line, and perftest's dialect (the key
// message in both sizes, version, system data, MTU, bandwidth report). Checks, besides no crash or
// sanitizer report: a parameter message that passes check_params never needs more than the limit, and
// it encodes back to a message that decodes to the same values.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "perf_params.hpp"
#include "rfab/sidechannel/perftest_dest.hpp"
#include "rfab/sidechannel/perftest_protocol.hpp"

using namespace rfab;

namespace {

constexpr uint64_t kLimit = 64ull << 20;

void perf_messages(std::string_view text) {
  try {
    const cli::perf::Params p = cli::perf::decode(text);
    try {
      cli::perf::check_params(p, kLimit);
      const auto need = cli::perf::memory_bytes(p, true);
      if (!need || *need > kLimit) std::abort();  // accepted past the limit
    } catch (const cli::perf::ParamsError&) {
    }
    const cli::perf::Params back = cli::perf::decode(cli::perf::encode(p));
    if (back.size != p.size || back.iters != p.iters || back.qps != p.qps || back.seed != p.seed ||
        back.duration != p.duration || back.verb != p.verb)
      std::abort();
  } catch (const cli::perf::ParamsError&) {
  }
  for (uint32_t qps : {1u, 3u}) {
    try {
      const auto r = cli::perf::decode_result(text, qps, 1000);
      if (r.completed.size() != qps) std::abort();
      for (uint64_t d : r.completed)
        if (d > 1000) std::abort();
    } catch (const cli::perf::ParamsError&) {
    }
  }
}

void perftest_messages(std::span<const char> b) {
  std::string err;
  for (size_t n : {sidechannel::kKeyMsgSize, sidechannel::kKeyMsgSizeGid})
    if (b.size() >= n) {
      auto d = sidechannel::parse_dest(b.first(n), err);
      // What parses re-encodes to a message that parses to the same record.
      if (d) {
        auto again = n == sidechannel::kKeyMsgSizeGid ? sidechannel::parse_dest(sidechannel::encode_dest_gid(*d), err)
                                                       : sidechannel::parse_dest(sidechannel::encode_dest(*d), err);
        if (!again || (n == sidechannel::kKeyMsgSizeGid && !(*again == *d))) std::abort();
      }
    }
  (void)sidechannel::parse_dest(b, err);
  try {
    (void)sidechannel::check_perftest_version(b.first(std::min<size_t>(b.size(), 16)));
  } catch (const std::invalid_argument&) {
  }
  if (b.size() >= 8) {
    try {
      const auto d = sidechannel::merge_perftest_sys_data({}, b.first(4), b.subspan(4, 4));
      if (d.cycle_buffer == 0 || d.cycle_buffer > (1u << 30) || d.cache_line == 0 || d.cache_line > 4096) std::abort();
    } catch (const std::invalid_argument&) {
    }
  }
  if (b.size() >= 2) {
    try {
      const int m = sidechannel::parse_perftest_mtu(b.first(2));
      if (sidechannel::perftest_mtu_bytes(m) == 0) std::abort();
    } catch (const std::invalid_argument&) {
    }
  }
  (void)sidechannel::decode_perftest_bw_report(std::string(b.data(), b.size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  perf_messages(text);
  perftest_messages(std::span<const char>(text.data(), text.size()));
  return 0;
}
