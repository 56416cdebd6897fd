// A Device on an RDMA device through libibverbs (an RNIC, or Linux rxe): the device runs the RC protocol,
// this side maps the Device calls onto ibv_* calls. The device is chosen as rfab/verbs/device.hpp says
// (flags, then RFAB_VERBS_DEVICE / RFAB_VERBS_PORT / RFAB_VERBS_GID_INDEX, then automatically).
#pragma once
#include <memory>
#include <string>

#include "rfab/endpoint/device.hpp"

namespace rfab::endpoint {

struct VerbsConfig {
  std::string device;   // "" = automatic
  int port = 0;         // 0 = automatic
  int gid_index = -1;   // -1 = automatic
  // How progress() waits: true sleeps on a completion channel (a rank's datapath thread may share its
  // core with the application); false polls without sleeping (lowest latency, one core busy).
  bool sleep = true;
};

// Throws EndpointError naming the device and why it cannot be used, or that rfab was built without
// libibverbs.
std::unique_ptr<Device> make_verbs_device(const VerbsConfig& config);

// True when an RDMA device with an active RoCE v2 port is usable (always false without libibverbs).
bool verbs_device_present();

}  // namespace rfab::endpoint
