#include "handle.hpp"

#include <algorithm>
#include <cstring>

#include "byte_order.hpp"

namespace rfab::ncclnet {
namespace {

constexpr uint32_t kMagic = 0x52464E48;  // "RFNH"
constexpr uint16_t kVersion = 1;
constexpr size_t kStageOffset = 64;
constexpr uint64_t kStageMagic = 0x52464E4353544147ull;  // "RFNCSTAG"

}  // namespace

void encode_handle(const ListenHandle& h, void* out) {
  auto* b = static_cast<uint8_t*>(out);
  std::memset(b, 0, kHandleBytes);
  put_be32(b, kMagic);
  put_be16(b + 4, kVersion);
  b[6] = h.tcp.v6 ? 6 : 4;
  b[7] = h.device;
  std::memcpy(b + 8, h.tcp.ip.data(), 16);
  put_be16(b + 24, h.tcp.port);
  put_be32(b + 28, h.nonce);
}

std::optional<ListenHandle> decode_handle(const void* in, std::string& why) {
  const auto* b = static_cast<const uint8_t*>(in);
  if (get_be32(b) != kMagic) {
    why = "not an rfab listen handle (bad magic)";
    return std::nullopt;
  }
  if (get_be16(b + 4) != kVersion) {
    why = "listen handle version " + std::to_string(get_be16(b + 4)) + ", this plugin speaks " +
          std::to_string(kVersion);
    return std::nullopt;
  }
  if (b[6] != 4 && b[6] != 6) {
    why = "listen handle with IP version " + std::to_string(b[6]);
    return std::nullopt;
  }
  ListenHandle h;
  h.tcp.v6 = b[6] == 6;
  std::memcpy(h.tcp.ip.data(), b + 8, 16);
  if (!h.tcp.v6 && std::any_of(h.tcp.ip.begin() + 4, h.tcp.ip.end(), [](uint8_t x) { return x != 0; })) {
    why = "listen handle with a malformed IPv4 address";
    return std::nullopt;
  }
  h.tcp.port = get_be16(b + 24);
  if (h.tcp.port == 0) {
    why = "listen handle with TCP port 0";
    return std::nullopt;
  }
  h.nonce = get_be32(b + 28);
  h.device = b[7];
  return h;
}

void* stage(const void* handle) {
  const auto* b = static_cast<const uint8_t*>(handle) + kStageOffset;
  uint64_t magic = 0;
  std::memcpy(&magic, b, 8);
  if (magic != kStageMagic) return nullptr;
  void* p = nullptr;
  std::memcpy(&p, b + 8, sizeof p);
  return p;
}

void set_stage(void* handle, void* pending) {
  auto* b = static_cast<uint8_t*>(handle) + kStageOffset;
  const uint64_t magic = pending != nullptr ? kStageMagic : 0;
  std::memcpy(b, &magic, 8);
  std::memcpy(b + 8, &pending, sizeof pending);
}

}  // namespace rfab::ncclnet
