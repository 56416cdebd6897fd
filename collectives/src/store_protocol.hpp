// Internal: the store's wire format. Request: u8 cmd, u32 key length, key, u32 value length, value.
// Reply: u8 status (0 ok, 1 missing, 2 refused), u32 length, payload. Lengths little-endian (both ends are
// this code). A client of a job opens with HELLO, its job id as the key; a store that serves another job
// answers "refused" with the reason and closes the connection.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace rfab::coll::store_proto {
enum Cmd : uint8_t { kSet = 1, kGet = 2, kAdd = 3, kCheck = 4, kHello = 5 };
enum Reply : uint8_t { kOk = 0, kMissing = 1, kRefused = 2 };
constexpr uint32_t kMaxField = 64u << 20;  // refuse absurd frames instead of allocating them

struct Request {
  uint8_t cmd = 0;
  std::string key, value;
};

// Parses one request from the front of `in` into `req` and returns the bytes it used; 0 when the frame is
// still incomplete. Throws std::runtime_error naming the problem for a frame no client writes (a field
// over kMaxField, an unknown command), before buffering it.
size_t parse_request(std::string_view in, Request& req);

// The value of an ADD: a signed decimal integer; throws std::runtime_error otherwise.
long long parse_add_operand(std::string_view v);
}  // namespace rfab::coll::store_proto
