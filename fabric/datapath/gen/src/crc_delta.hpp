// What changing one byte does to a CRC-32 (zlib convention, what the ICRC is): for messages of the same
// length, crc(m) ^ crc(m') depends only on m ^ m' and where it sits, so a byte that differs by `x` at
// `distance` bytes before the end of the message changes the CRC by table(distance)[x]. The generator
// patches a frame's PSN and MSN this way instead of running the CRC over the frame again.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <unordered_map>

namespace rfab::gen {

class CrcDelta {
 public:
  using Table = std::array<uint32_t, 256>;
  // The table for a byte followed by `distance` more bytes of the message. Built on first use (eight CRC
  // runs over distance+1 bytes); the reference stays valid for the lifetime of this object.
  const Table& table(size_t distance);

 private:
  std::unordered_map<size_t, Table> tables_;
};

}  // namespace rfab::gen
