#include "store_protocol.hpp"

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace rfab::coll::store_proto {

size_t parse_request(std::string_view in, Request& req) {
  if (in.empty()) return 0;
  const auto cmd = static_cast<uint8_t>(in[0]);
  if (cmd < kSet || cmd > kHello) throw std::runtime_error("unknown command " + std::to_string(cmd));
  if (in.size() < 9) return 0;
  uint32_t klen;
  std::memcpy(&klen, in.data() + 1, 4);
  if (klen > kMaxField) throw std::runtime_error("key too long");
  if (in.size() < 5 + size_t{klen} + 4) return 0;
  uint32_t vlen;
  std::memcpy(&vlen, in.data() + 5 + klen, 4);
  if (vlen > kMaxField) throw std::runtime_error("value too long");
  const size_t total = 9 + size_t{klen} + vlen;
  if (in.size() < total) return 0;
  req.cmd = cmd;
  req.key.assign(in.data() + 5, klen);
  req.value.assign(in.data() + 9 + klen, vlen);
  return total;
}

long long parse_add_operand(std::string_view v) {
  long long x = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || p != v.data() + v.size())
    throw std::runtime_error("ADD of a value that is not an integer");
  return x;
}

}  // namespace rfab::coll::store_proto
