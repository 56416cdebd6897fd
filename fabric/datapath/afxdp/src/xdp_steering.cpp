#include "xdp_steering.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "rfab/frame/error.hpp"
#include "rfab_xsk.skel.h"

namespace rfab::afxdp {
namespace {

int quiet_libbpf(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_WARN) return vfprintf(stderr, fmt, args);
  return 0;
}

std::string permission_hint(int err) {
  return err == EPERM || err == EACCES ? " (loading XDP programs needs root, or CAP_BPF and CAP_NET_ADMIN)" : "";
}

}  // namespace

XdpSteering::XdpSteering(const std::string& iface, int ifindex, const udp::Address& local, XdpMode mode) {
  libbpf_set_print(quiet_libbpf);
  skel_ = rfab_xsk__open();
  if (skel_ == nullptr) frame::throw_errno("AF_XDP: opening the XDP program", errno);
  skel_->rodata->rfab_roce_port = local.port;
  skel_->rodata->rfab_v6 = local.v6 ? 1 : 0;
  if (local.v6) {
    std::memcpy(const_cast<uint32_t*>(skel_->rodata->rfab_ipv6), local.ip.data(), 16);
  } else {
    uint32_t v4;
    std::memcpy(&v4, local.ip.data(), 4);
    skel_->rodata->rfab_ipv4 = v4;
  }
  if (const int rc = rfab_xsk__load(skel_); rc != 0) {
    rfab_xsk__destroy(skel_);
    skel_ = nullptr;
    throw frame::FrameError("AF_XDP: loading the XDP program: " + std::string(std::strerror(-rc)) + permission_hint(-rc));
  }
  LIBBPF_OPTS(bpf_link_create_opts, opts);
  opts.flags = mode == XdpMode::native ? XDP_FLAGS_DRV_MODE : mode == XdpMode::generic ? XDP_FLAGS_SKB_MODE : 0;
  const int prog = bpf_program__fd(skel_->progs.rfab_xsk_redirect);
  link_fd_ = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
  // Automatic: native XDP when the driver takes it (veth refuses it above ~3.5 KB of MTU), else generic.
  if (link_fd_ < 0 && mode == XdpMode::automatic && (errno == ERANGE || errno == EOPNOTSUPP || errno == EINVAL)) {
    opts.flags = XDP_FLAGS_SKB_MODE;
    link_fd_ = bpf_link_create(prog, ifindex, BPF_XDP, &opts);
  }
  if (link_fd_ < 0) {
    const int err = errno;
    rfab_xsk__destroy(skel_);
    skel_ = nullptr;
    std::string why = std::strerror(err);
    if (err == EBUSY || err == EEXIST)
      why += ": another XDP program is attached to " + iface + " (ip link show " + iface + "; ip link set dev " + iface +
             " xdp off)";
    else if (err == EOPNOTSUPP || err == EINVAL)
      why += mode == XdpMode::native ? ": the driver of " + iface + " has no native XDP (try --xdp-mode generic)"
                                     : ": " + iface + " does not support this XDP mode";
    else if (err == ERANGE)
      why += ": the MTU of " + iface + " is too large for native XDP (lower it, or --xdp-mode generic)";
    throw frame::FrameError("AF_XDP: attaching the XDP program to " + iface + ": " + why + permission_hint(err));
  }
  // Which mode the kernel chose (automatic asks for none).
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(ifindex, 0, &q) == 0) native_ = q.attach_mode == XDP_ATTACHED_DRV || q.attach_mode == XDP_ATTACHED_HW;
  else native_ = mode == XdpMode::native;
}

XdpSteering::~XdpSteering() {
  if (link_fd_ >= 0) ::close(link_fd_);
  if (skel_ != nullptr) rfab_xsk__destroy(skel_);
}

int XdpSteering::xsk_map_fd() const { return bpf_map__fd(skel_->maps.rfab_xsks); }

uint64_t XdpSteering::count(uint32_t key) const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return 0;
  std::vector<uint64_t> v(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.rfab_xsk_counts), &key, v.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t x : v) sum += x;
  return sum;
}

}  // namespace rfab::afxdp
