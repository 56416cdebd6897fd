// Internal: the store's wire format. Request: u8 cmd, u32 key length, key, u32 value length, value.
// Reply: u8 status (0 ok, 1 missing), u32 length, payload. Lengths little-endian (both ends are this code).
#pragma once
#include <cstdint>

namespace rfab::coll::store_proto {
enum Cmd : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4 };
enum Reply : uint8_t { kOk = 0, kMissing = 1 };
constexpr uint32_t kMaxField = 64u << 20;  // refuse absurd frames instead of allocating them
}  // namespace rfab::coll::store_proto
