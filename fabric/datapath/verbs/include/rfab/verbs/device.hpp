// Choosing the RDMA device, port and GID index for RoCE v2 through libibverbs. Automatic choice: the first
// device with an ACTIVE Ethernet port whose GID table holds a RoCE v2 entry with an IPv4-mapped address.
// Each part can be forced by flag (Selection) or environment: RFAB_VERBS_DEVICE, RFAB_VERBS_PORT,
// RFAB_VERBS_GID_INDEX (a flag wins over the environment).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace rfab::verbs {

// Every failure of this library: names the device/port/call and what to do.
struct VerbsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

using Gid = std::array<uint8_t, 16>;

struct Selection {
  std::string device;  // empty = automatic
  int port = 0;        // 0 = automatic
  int gid_index = -1;  // -1 = automatic
};

// Fills the unset fields of `s` from RFAB_VERBS_DEVICE / RFAB_VERBS_PORT / RFAB_VERBS_GID_INDEX.
// Throws VerbsError when a variable is set but not a valid number.
Selection selection_from_env(Selection s);

struct Endpoint {
  std::string device;
  uint8_t port = 1;
  int gid_index = 0;
  Gid gid{};
  int active_mtu = 1024;  // bytes (ibv_port_attr.active_mtu)
  std::string ipv4() const;  // the IPv4 address of an IPv4-mapped GID, "" otherwise
};

// Resolves a Selection against the devices present. Throws VerbsError: no device, named device or port
// missing, port not ACTIVE, not Ethernet, no RoCE v2 GID (or the forced one is not RoCE v2).
Endpoint choose_endpoint(const Selection& s);

// The active MTU in bytes of `device` port `port`, or nullopt when it cannot be queried.
std::optional<int> port_active_mtu(const std::string& device, int port);

bool is_ipv4_mapped(const Gid& g);

}  // namespace rfab::verbs
