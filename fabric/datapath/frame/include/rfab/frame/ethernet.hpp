// Ethernet addresses and the layer-2 constants the frame datapaths need.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rfab::frame {

inline constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86DD, kEtherArp = 0x0806;
inline constexpr size_t kEthHeaderLen = 14;

struct Mac {
  std::array<uint8_t, 6> b{};
  static std::optional<Mac> parse(std::string_view text);  // "02:00:00:00:00:01"
  static Mac broadcast() { return Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool is_zero() const { return b == std::array<uint8_t, 6>{}; }
  std::string to_string() const;
  auto operator<=>(const Mac&) const = default;
};

}  // namespace rfab::frame
