// Packet drivers that bypass the kernel's UDP stack: AF_XDP sockets and DPDK ethdevs. Both carry whole
// Ethernet frames, built and parsed by rfab::frame::FrameDriver (fabric/datapath/frame), so they are wire-
// identical to the kernel-UDP driver and to each other. Which packet datapath to use is one word
// (`rfab perf --datapath`, RFAB_DATAPATH).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rfab/endpoint/packet_driver.hpp"
#include "rfab/fault/fault_config.hpp"

namespace rfab::endpoint {

enum class Datapath : uint8_t { udp, afxdp, dpdk, verbs };
// "udp", "afxdp", "dpdk", "verbs"; nullopt for anything else.
std::optional<Datapath> parse_datapath(std::string_view word);
const char* to_string(Datapath d);
// Whether this build has the datapath (AF_XDP needs libxdp and the BPF toolchain, DPDK libdpdk, verbs
// libibverbs).
bool datapath_built(Datapath d);

// What every frame datapath needs.
struct FrameDatapathConfig {
  udp::Address local;       // local IP and RoCE port (4791)
  bool verify_icrc = true;
  bool udp_checksum = false;  // IPv4: also compute the UDP checksum (IPv6 always does)
  std::optional<fault::FaultConfig> rx_faults;
};

struct AfxdpOptions {
  std::string iface;               // "" = the interface that holds the local address
  std::string xdp_mode = "auto";   // auto | native | generic
  std::string copy_mode = "auto";  // auto (zero-copy when the driver has it) | zero-copy | copy
  int queue = -1;                  // -1: every receive queue of the interface
  uint32_t frames = 4096;          // UMEM frames per socket (power of two)
  unsigned busy_poll_us = 0;       // SO_BUSY_POLL on the sockets; also polls this long before sleeping
  Nanos neighbour_timeout = 3'000'000'000;  // waiting for the kernel to resolve a peer's MAC
};

struct DpdkOptions {
  std::string eal_args;  // "--no-huge -m 512 --no-pci --no-shconf --vdev=net_af_packet0,iface=veth0"
  uint16_t port = 0;     // ethdev port id
  uint32_t mbufs = 8191;
};

// Throw EndpointError naming the datapath and the problem (missing interface, no permission, no XDP, bad
// EAL arguments, not built).
std::unique_ptr<PacketDriver> make_afxdp_packet_driver(const FrameDatapathConfig& config, const AfxdpOptions& options);
std::unique_ptr<PacketDriver> make_dpdk_packet_driver(const FrameDatapathConfig& config, const DpdkOptions& options);

// What can be checked before a peer is known, so a server fails at once rather than when a client comes:
// the interface exists (AF_XDP, when named); the EAL starts and has the port (DPDK). Throw EndpointError.
void check_afxdp_options(const AfxdpOptions& options);
void check_dpdk_options(const DpdkOptions& options);

}  // namespace rfab::endpoint
