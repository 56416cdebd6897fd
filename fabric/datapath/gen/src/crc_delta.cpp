#include "crc_delta.hpp"

#include <vector>

#include "rfab/wire/crc32.hpp"

namespace rfab::gen {

const CrcDelta::Table& CrcDelta::table(size_t distance) {
  auto [it, inserted] = tables_.try_emplace(distance);
  Table& t = it->second;
  if (!inserted) return t;
  std::vector<uint8_t> msg(distance + 1, 0);
  const uint32_t zero = wire::crc32_update(0, msg.data(), msg.size());
  // The change is linear in the byte: one CRC run per bit, every other value the XOR of its bits' changes.
  std::array<uint32_t, 8> bit{};
  for (int b = 0; b < 8; ++b) {
    msg[0] = static_cast<uint8_t>(1u << b);
    bit[static_cast<size_t>(b)] = wire::crc32_update(0, msg.data(), msg.size()) ^ zero;
  }
  for (uint32_t x = 0; x < 256; ++x) {
    uint32_t d = 0;
    for (int b = 0; b < 8; ++b)
      if (x & (1u << b)) d ^= bit[static_cast<size_t>(b)];
    t[x] = d;
  }
  return t;
}

}  // namespace rfab::gen
