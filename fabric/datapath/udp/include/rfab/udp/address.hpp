// An IPv4 or IPv6 address plus UDP port, convertible to sockaddr and to the RoCE v2 GID (IPv4 addresses
// appear as IPv4-mapped IPv6 GIDs, ::ffff:a.b.c.d, as in rdma-core's GID table).
#pragma once
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rfab::udp {

using Gid = std::array<uint8_t, 16>;

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> ip{};  // IPv4: the 4 address bytes first, rest zero
  uint16_t port = 0;

  // Parses a numeric IPv4 ("10.0.0.1") or IPv6 ("fd00::1", "[fd00::1]") address; nullopt if neither.
  static std::optional<Address> parse(std::string_view text, uint16_t port = 0);
  // Parse or throw UdpError("<what>: '<text>' is not a numeric IPv4 or IPv6 address").
  static Address parse_or_throw(std::string_view text, uint16_t port, const char* what);
  static Address from_sockaddr(const sockaddr* sa);
  static Address from_gid(const Gid& gid, uint16_t port = 0);

  socklen_t to_sockaddr(sockaddr_storage& out) const;
  Gid gid() const;
  size_t ip_len() const { return v6 ? 16 : 4; }
  std::string ip_string() const;
  std::string to_string() const;  // "10.0.0.1:4791" or "[fd00::1]:4791"
  Address with_port(uint16_t p) const {
    Address a = *this;
    a.port = p;
    return a;
  }
  bool same_ip(const Address& o) const { return v6 == o.v6 && ip == o.ip; }
  auto operator<=>(const Address&) const = default;
};

// The local address the kernel would use as source to reach `peer` (routing lookup via a connected UDP
// probe socket; nothing is sent). Throws UdpError when there is no route.
Address source_address_for(const Address& peer);

}  // namespace rfab::udp
