// Feeds arbitrary bytes to every decoder entry point. Any crash, sanitizer report or inconsistency between
// decode and re-encode aborts.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "rfab/wire/icrc.hpp"
#include "rfab/wire/packet.hpp"

using namespace rfab::wire;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  for (LinkType link : {LinkType::ethernet, LinkType::raw_ip}) {
    auto fr = decode_frame(in, link);
    if (fr) {
      (void)frame_icrc_ok(*fr);
      // Every span the decoder hands out must lie inside the input.
      auto inside = [&](std::span<const uint8_t> s) {
        return s.empty() || (s.data() >= data && s.data() + s.size() <= data + size);
      };
      if (!inside(fr->l3) || !inside(fr->roce.payload)) std::abort();
    } else {
      (void)fr.error().message();
    }
  }
  auto r = decode_roce(in);
  if (r) {
    // Re-encoding the decoded fields must reproduce the input except the ICRC and reserved bits.
    std::vector<uint8_t> out(roce_encoded_len(r->f.bth.opcode, r->payload.size()));
    auto n = encode_roce(r->f, r->payload, out);
    if (!n || *n != size) std::abort();
  }
  if (size > 0) (void)icrc_compute(in);
  return 0;
}
