// The XDP program that steers RoCE v2 to the XSK sockets (bpf/rfab_xsk.bpf.c), loaded and attached through
// a BPF link: the kernel detaches it when the last reference goes, so a crashed process leaves nothing on
// the interface.
#pragma once
#include <cstdint>
#include <string>

#include "rfab/afxdp/afxdp.hpp"

struct rfab_xsk;

namespace rfab::afxdp {

class XdpSteering {
 public:
  // Throws FrameError naming the interface and the reason (permission, mode unsupported, busy).
  XdpSteering(const std::string& iface, int ifindex, const udp::Address& local, XdpMode mode);
  ~XdpSteering();
  XdpSteering(const XdpSteering&) = delete;
  XdpSteering& operator=(const XdpSteering&) = delete;

  int xsk_map_fd() const;
  bool native() const { return native_; }
  uint64_t steered() const { return count(0); }  // frames redirected to a socket, all CPUs
  uint64_t passed() const { return count(1); }   // frames given to the kernel

 private:
  uint64_t count(uint32_t key) const;
  rfab_xsk* skel_ = nullptr;
  int link_fd_ = -1;
  bool native_ = false;
};

}  // namespace rfab::afxdp
