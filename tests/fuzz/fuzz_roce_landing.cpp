// What a RoCE peer sends a rank's datapath to steer its writes: landing descriptors (32-byte SEND payloads,
// collectives/src/roce_landing.hpp). Arbitrary bytes become a mix of descriptors (decoded as they arrive,
// pushed when valid) and writes routed from a stream offset that only moves forward, as the datapath posts
// them. Checks, besides no crash or sanitizer report: a write is never empty or longer than asked, never
// spans a landing's edges, and goes into a landing only from that landing's first byte on.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>

#include "roce_landing.hpp"

namespace roce = rfab::coll::roce;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  roce::LandingRoutes routes;
  std::map<uint64_t, uint64_t> taken;  // landings already entered: begin -> end
  uint64_t posted = 0;
  size_t pos = 0;
  while (pos < size) {
    const uint8_t ctl = data[pos++];
    if ((ctl & 1) != 0) {  // a SEND payload of 0..63 bytes
      const size_t len = std::min<size_t>(size - pos, ctl >> 2);
      const auto d = roce::decode_landing(reinterpret_cast<const std::byte*>(data + pos), len);
      pos += len;
      if (d && (d->end <= d->begin || d->end - d->begin > roce::kMaxLandingBytes)) std::abort();
      if (d) (void)routes.push(*d);
      continue;
    }
    // A write: how far the stream skips first (padding), and how long it wants to be.
    uint8_t b[4] = {};
    const size_t n = std::min<size_t>(size - pos, sizeof b);
    std::memcpy(b, data + pos, n);
    pos += n;
    posted += (ctl >> 1) % 4 == 0 ? static_cast<uint64_t>(b[0]) * 64 : 0;
    const size_t want = 1 + ((static_cast<size_t>(b[1]) << 16 | static_cast<size_t>(b[2]) << 8 | b[3]) % (1u << 20));
    const roce::LandingRoutes::Route r = routes.route(posted, want);
    if (r.len == 0 || r.len > want) std::abort();
    if (r.land != nullptr) {
      if (posted < r.land->begin || posted + r.len > r.land->end) std::abort();
      auto [it, fresh] = taken.emplace(r.land->begin, r.land->end);
      if (fresh && posted != r.land->begin) std::abort();  // entered in the middle
    }
    posted += r.len;
  }
  return 0;
}
