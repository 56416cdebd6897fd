// The plugin's entry points as C++ functions (the v8 semantics), shared by the exported v8/v7/v6 tables
// in plugin_exports.cpp. Each checks its arguments (a bad one is ncclInvalidArgument with a log line
// naming it), turns exceptions into result codes and never throws.
#pragma once
#include "nccl_net_v8.h"

namespace rfab::ncclnet {

ncclResult_t net_init(ncclDebugLogger_t logger);
ncclResult_t net_devices(int* ndev);
ncclResult_t net_get_properties(int dev, ncclNetProperties_v8_t* props);
ncclResult_t net_listen(int dev, void* handle, void** listen_comm);
ncclResult_t net_connect(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_v8_t** send_dev_comm);
ncclResult_t net_accept(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_v8_t** recv_dev_comm);
ncclResult_t net_reg_mr(void* comm, void* data, size_t size, int type, void** mhandle);
ncclResult_t net_reg_mr_dmabuf(void* comm, void* data, size_t size, int type, uint64_t offset, int fd, void** mhandle);
ncclResult_t net_dereg_mr(void* comm, void* mhandle);
ncclResult_t net_isend(void* send_comm, void* data, int size, int tag, void* mhandle, void** request);
ncclResult_t net_irecv(void* recv_comm, int n, void** data, int* sizes, int* tags, void** mhandles, void** request);
ncclResult_t net_iflush(void* recv_comm, int n, void** data, int* sizes, void** mhandles, void** request);
ncclResult_t net_test(void* request, int* done, int* sizes);
ncclResult_t net_close_send(void* send_comm);
ncclResult_t net_close_recv(void* recv_comm);
ncclResult_t net_close_listen(void* listen_comm);

}  // namespace rfab::ncclnet
