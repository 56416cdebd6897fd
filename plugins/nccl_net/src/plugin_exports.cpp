// The symbols NCCL looks for: ncclNetPlugin_v8 first, then _v7 and _v6 for older NCCL releases. v7 and
// v6 differ from v8 only in a narrower regMr size, fewer properties and (v6) no device-offload arguments,
// so they are thin adapters over the same entry points.
#include <climits>

#include "nccl_net_v8.h"
#include "plugin.hpp"

namespace {

using namespace rfab::ncclnet;

ncclResult_t reg_mr_int(void* comm, void* data, int size, int type, void** mhandle) {
  if (size < 0) return net_reg_mr(comm, data, static_cast<size_t>(SIZE_MAX), type, mhandle);  // refused there
  return net_reg_mr(comm, data, static_cast<size_t>(size), type, mhandle);
}

ncclResult_t properties_v7(int dev, ncclNetProperties_v7_t* props) {
  if (props == nullptr) return net_get_properties(dev, nullptr);
  ncclNetProperties_v8_t p;
  const ncclResult_t r = net_get_properties(dev, &p);
  if (r != ncclSuccess) return r;
  *props = ncclNetProperties_v7_t{p.name, p.pciPath, p.guid, p.ptrSupport, p.speed, p.port, p.latency,
                                  p.maxComms, p.maxRecvs, p.netDeviceType, p.netDeviceVersion};
  return ncclSuccess;
}

ncclResult_t properties_v6(int dev, ncclNetProperties_v6_t* props) {
  if (props == nullptr) return net_get_properties(dev, nullptr);
  ncclNetProperties_v8_t p;
  const ncclResult_t r = net_get_properties(dev, &p);
  if (r != ncclSuccess) return r;
  *props = ncclNetProperties_v6_t{p.name, p.pciPath, p.guid, p.ptrSupport, p.speed, p.port, p.latency,
                                  p.maxComms, p.maxRecvs};
  return ncclSuccess;
}

ncclResult_t connect_v6(int dev, void* handle, void** send_comm) { return net_connect(dev, handle, send_comm, nullptr); }
ncclResult_t accept_v6(void* listen_comm, void** recv_comm) { return net_accept(listen_comm, recv_comm, nullptr); }

}  // namespace

extern "C" {

__attribute__((visibility("default"))) extern const ncclNet_v8_t ncclNetPlugin_v8;
__attribute__((visibility("default"))) extern const ncclNet_v7_t ncclNetPlugin_v7;
__attribute__((visibility("default"))) extern const ncclNet_v6_t ncclNetPlugin_v6;

// getDeviceMr and irecvConsumed serve device offload (NCCL_NET_DEVICE_UNPACK); a host plugin leaves
// them NULL, as NCCL's own socket and IB transports do.
const ncclNet_v8_t ncclNetPlugin_v8 = {
    "rfab",          net_init,      net_devices,   net_get_properties, net_listen,       net_connect,
    net_accept,      net_reg_mr,    net_reg_mr_dmabuf, net_dereg_mr,   net_isend,        net_irecv,
    net_iflush,      net_test,      net_close_send, net_close_recv,    net_close_listen, nullptr,
    nullptr};

const ncclNet_v7_t ncclNetPlugin_v7 = {
    "rfab",          net_init,      net_devices,   properties_v7,      net_listen,       net_connect,
    net_accept,      reg_mr_int,    net_reg_mr_dmabuf, net_dereg_mr,   net_isend,        net_irecv,
    net_iflush,      net_test,      net_close_send, net_close_recv,    net_close_listen, nullptr,
    nullptr};

const ncclNet_v6_t ncclNetPlugin_v6 = {
    "rfab",          net_init,      net_devices,   properties_v6,      net_listen,       connect_v6,
    accept_v6,       reg_mr_int,    net_reg_mr_dmabuf, net_dereg_mr,   net_isend,        net_irecv,
    net_iflush,      net_test,      net_close_send, net_close_recv,    net_close_listen};

}  // extern "C"
