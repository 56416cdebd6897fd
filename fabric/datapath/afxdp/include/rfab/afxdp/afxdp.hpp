// The AF_XDP datapath: an XSK socket per receive queue of one interface, each with its own UMEM, fed by an
// XDP program that steers RoCE v2 for the local address to them (bpf/rfab_xsk.bpf.c) and passes the rest
// to the kernel. The port (FramePort) goes to rfab::frame::FrameDriver, which runs the RC engine over it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rfab/base/time.hpp"
#include "rfab/frame/ethernet.hpp"
#include "rfab/frame/frame_port.hpp"
#include "rfab/udp/address.hpp"

namespace rfab::afxdp {

enum class XdpMode : uint8_t { automatic, native, generic };
enum class CopyMode : uint8_t { automatic, zero_copy, copy };

struct AfxdpConfig {
  std::string iface;                 // "" = the interface that holds `local`
  udp::Address local;                // the address (and RoCE port) the XDP program steers to the sockets
  XdpMode xdp_mode = XdpMode::automatic;
  CopyMode copy_mode = CopyMode::automatic;  // automatic: zero-copy when the driver has it, else copy
  int queue = -1;                    // one receive queue only; -1 = every receive queue of the interface
  uint32_t frames = 4096;            // UMEM frames per socket (half for receive, half for transmit), power of 2
  unsigned busy_poll_us = 0;         // SO_BUSY_POLL (with SO_PREFER_BUSY_POLL) on the sockets; 0 = off
};

// Opens the sockets and attaches the XDP program (a BPF link: it goes away with the process). Throws
// frame::FrameError naming the interface and the fix: missing interface, no permission, no XDP support,
// another XDP program in the way.
std::unique_ptr<frame::FramePort> open_xsk_port(const AfxdpConfig& config);

// Interface helpers (interface.cpp).
std::string interface_of(const udp::Address& local);  // throws FrameError when no interface holds it
int interface_index(const std::string& iface);        // throws FrameError("interface 'x' does not exist")
frame::Mac interface_mac(const std::string& iface);
unsigned interface_mtu(const std::string& iface);
unsigned rx_queue_count(const std::string& iface);

// The MAC of the next hop towards `peer` from the kernel's routing and neighbour tables (rtnetlink). When
// the neighbour is not resolved yet, a datagram to the peer's discard port makes the kernel resolve it, and
// the table is read again until `timeout`. Throws FrameError when the route leaves by another interface
// or nobody answers.
frame::Mac kernel_next_hop_mac(int ifindex, const std::string& iface, const udp::Address& peer, Nanos timeout);

}  // namespace rfab::afxdp
