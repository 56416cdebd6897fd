#include "plugin.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "comm.hpp"
#include "config.hpp"
#include "handle.hpp"
#include "log.hpp"
#include "net_device.hpp"
#include "rfab/endpoint/verbs_device.hpp"
#include "setup.hpp"

namespace rfab::ncclnet {
namespace {

// Lives until the process exits (never destroyed): NCCL never unloads a plugin it uses, and devices with
// their threads must outlast every comm NCCL still holds at exit.
struct State {
  std::mutex mu;
  bool initialized = false;
  Config config;
  std::vector<std::unique_ptr<NetDevice>> devices;
};

State& state() {
  static State* s = new State;
  return *s;
}

ncclResult_t invalid(const std::string& what) {
  RFAB_NCCL_WARN(what);
  return ncclInvalidArgument;
}

NetDevice* device_at(int dev) {
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  if (!s.initialized || dev < 0 || static_cast<size_t>(dev) >= s.devices.size()) return nullptr;
  return s.devices[static_cast<size_t>(dev)].get();
}

std::string device_range() {
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  if (!s.initialized) return "init() has not succeeded";
  return "devices are 0.." + std::to_string(static_cast<int>(s.devices.size()) - 1);
}

// A comm pointer of the given kind (Comm::kSendMagic / kRecvMagic, or 0 for either), or nullptr.
Comm* as_comm(void* p, uint64_t kind) {
  if (p == nullptr) return nullptr;
  auto* c = static_cast<Comm*>(p);
  if (c->magic != Comm::kSendMagic && c->magic != Comm::kRecvMagic) return nullptr;
  if (kind != 0 && c->magic != kind) return nullptr;
  return c;
}

template <typename F>
ncclResult_t guarded(const char* call, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    RFAB_NCCL_WARN(std::string(call) + ": " + e.what());
    return ncclSystemError;
  }
}

std::vector<Interface> verbs_interface() {
  // The RDMA device chooses its own address (RFAB_VERBS_DEVICE, _PORT, _GID_INDEX); the side channel
  // listens on the same IP.
  endpoint::VerbsConfig vc;
  const std::unique_ptr<endpoint::Device> d = endpoint::make_verbs_device(vc);
  Interface i;
  i.name = d->name();
  i.ip = d->address().with_port(0);
  i.mtu = static_cast<int>(d->max_mtu(4096)) + 96;
  i.speed_mbps = 100000;
  return {i};
}

// The payload bytes a MemHandle argument must cover; checks it belongs to `dev`.
ncclResult_t check_memory(const char* call, NetDevice& dev, void* data, int size, void* mh, const char* which) {
  if (size < 0) return invalid(std::string(call) + ": negative size " + std::to_string(size) + which);
  if (mh == nullptr) {
    if (size == 0) return ncclSuccess;
    return invalid(std::string(call) + ": no memory handle for " + std::to_string(size) + " bytes" + which);
  }
  const auto* m = static_cast<const MemHandle*>(mh);
  if (m->magic != MemHandle::kMagic) return invalid(std::string(call) + ": not a memory handle from regMr" + which);
  if (m->dev != &dev) return invalid(std::string(call) + ": memory handle registered on another device" + which);
  if (size > 0 && (data == nullptr || !m->covers(data, static_cast<size_t>(size))))
    return invalid(std::string(call) + ": " + std::to_string(size) + " bytes at " +
                   std::to_string(reinterpret_cast<uintptr_t>(data)) + " lie outside the registered region" + which);
  return ncclSuccess;
}

}  // namespace

ncclResult_t net_init(ncclDebugLogger_t logger) {
  set_logger(logger);
  return guarded("init", [&]() -> ncclResult_t {
    State& s = state();
    std::lock_guard<std::mutex> l(s.mu);
    if (s.initialized) return ncclSuccess;
    try {
      s.config = read_config();
    } catch (const std::invalid_argument& e) {
      RFAB_NCCL_WARN(e.what());
      return ncclInvalidArgument;
    }
    Transport t = s.config.transport;
    if (t == Transport::automatic) t = endpoint::verbs_device_present() ? Transport::verbs : Transport::udp;
    const std::vector<Interface> ifaces = t == Transport::verbs ? verbs_interface() : list_interfaces(s.config.ifaces);
    if (ifaces.empty()) {
      RFAB_NCCL_WARN("no usable network interface (up, with an address)" +
                     (s.config.iface_spec.empty() ? std::string() : " matches " + s.config.iface_spec));
      return ncclSystemError;
    }
    for (const Interface& i : ifaces) {
      s.devices.push_back(std::make_unique<NetDevice>(static_cast<int>(s.devices.size()), i, t));
      RFAB_NCCL_INFO("device " + std::to_string(s.devices.size() - 1) + ": " + i.name + " " + i.ip.ip_string() +
                     (t == Transport::verbs ? " (libibverbs)" : " (rfab RC engine over kernel UDP)"));
    }
    s.initialized = true;
    return ncclSuccess;
  });
}

ncclResult_t net_devices(int* ndev) {
  if (ndev == nullptr) return invalid("devices: ndev is NULL");
  State& s = state();
  std::lock_guard<std::mutex> l(s.mu);
  if (!s.initialized) return invalid("devices: init() has not succeeded");
  *ndev = static_cast<int>(s.devices.size());
  return ncclSuccess;
}

ncclResult_t net_get_properties(int dev, ncclNetProperties_v8_t* props) {
  NetDevice* d = device_at(dev);
  if (d == nullptr) return invalid("getProperties: no device " + std::to_string(dev) + " (" + device_range() + ")");
  if (props == nullptr) return invalid("getProperties: props is NULL");
  const Interface& i = d->iface();
  *props = ncclNetProperties_v8_t{};
  props->name = const_cast<char*>(i.name.c_str());
  props->pciPath = i.pci_path.empty() ? nullptr : const_cast<char*>(i.pci_path.c_str());
  uint64_t guid = 1469598103934665603ull;  // FNV-1a of the name: ports of one NIC differ by name
  for (char c : i.name) guid = (guid ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  props->guid = guid;
  props->ptrSupport = NCCL_PTR_HOST;
  props->regIsGlobal = 1;  // registrations belong to the device, whatever comm names it
  props->speed = i.speed_mbps;
  props->port = 0;
  props->latency = 0;
  props->maxComms = 65536;
  props->maxRecvs = kMaxRecvs;
  props->netDeviceType = NCCL_NET_DEVICE_HOST;
  props->netDeviceVersion = NCCL_NET_DEVICE_INVALID_VERSION;
  return ncclSuccess;
}

ncclResult_t net_listen(int dev, void* handle, void** listen_comm) {
  NetDevice* d = device_at(dev);
  if (d == nullptr) return invalid("listen: no device " + std::to_string(dev) + " (" + device_range() + ")");
  if (handle == nullptr || listen_comm == nullptr) return invalid("listen: handle or listenComm is NULL");
  return guarded("listen", [&]() -> ncclResult_t {
    auto lc = std::make_unique<ListenComm>(*d, state().config.timeout);
    encode_handle(lc->handle(), handle);
    *listen_comm = lc.release();
    return ncclSuccess;
  });
}

ncclResult_t net_connect(int dev, void* handle, void** send_comm, ncclNetDeviceHandle_v8_t** /*send_dev_comm*/) {
  NetDevice* d = device_at(dev);
  if (d == nullptr) return invalid("connect: no device " + std::to_string(dev) + " (" + device_range() + ")");
  if (handle == nullptr || send_comm == nullptr) return invalid("connect: handle or sendComm is NULL");
  *send_comm = nullptr;
  return guarded("connect", [&]() -> ncclResult_t {
    auto* pending = static_cast<Handshake*>(stage(handle));
    if (pending == nullptr) {
      std::string why;
      const std::optional<ListenHandle> h = decode_handle(handle, why);
      if (!h) return invalid("connect: " + why);
      set_stage(handle, start_connect(*d, *h, state().config.timeout).release());
      return ncclSuccess;
    }
    if (pending->magic != Handshake::kMagic) return invalid("connect: the handle's connection state is corrupt");
    if (!pending->done()) return ncclSuccess;
    set_stage(handle, nullptr);
    std::unique_ptr<Handshake> h(pending);
    std::unique_ptr<Comm> c = h->take();
    if (!c) {
      RFAB_NCCL_WARN("connect on " + d->iface().name + ": " + h->error());
      return ncclSystemError;
    }
    *send_comm = c.release();
    return ncclSuccess;
  });
}

ncclResult_t net_accept(void* listen_comm, void** recv_comm, ncclNetDeviceHandle_v8_t** /*recv_dev_comm*/) {
  auto* lc = static_cast<ListenComm*>(listen_comm);
  if (lc == nullptr || lc->magic != ListenComm::kMagic) return invalid("accept: not a listenComm from listen()");
  if (recv_comm == nullptr) return invalid("accept: recvComm is NULL");
  *recv_comm = nullptr;
  return guarded("accept", [&]() -> ncclResult_t {
    std::unique_ptr<Comm> c = lc->poll_accept();
    if (c) *recv_comm = c.release();
    return ncclSuccess;
  });
}

ncclResult_t net_reg_mr(void* comm, void* data, size_t size, int type, void** mhandle) {
  Comm* c = as_comm(comm, 0);
  if (c == nullptr) return invalid("regMr: not a sendComm or recvComm");
  if (mhandle == nullptr) return invalid("regMr: mhandle is NULL");
  if (type != NCCL_PTR_HOST)
    return invalid("regMr: memory type " + std::to_string(type) + ": only host memory (NCCL_PTR_HOST) is supported");
  if (data == nullptr && size > 0) return invalid("regMr: data is NULL");
  return guarded("regMr", [&]() -> ncclResult_t {
    auto m = std::make_unique<MemHandle>();
    m->dev = &c->device();
    m->addr = reinterpret_cast<uintptr_t>(data);
    m->len = size;
    if (size > 0) {
      NetDevice::Lock lock(c->device());
      m->key = c->device().register_memory(data, size);
    }
    *mhandle = m.release();
    return ncclSuccess;
  });
}

ncclResult_t net_reg_mr_dmabuf(void* comm, void* data, size_t size, int type, uint64_t /*offset*/, int /*fd*/,
                               void** mhandle) {
  if (type != NCCL_PTR_HOST) return invalid("regMrDmaBuf: DMA-BUF (device) memory is not supported, host memory only");
  return net_reg_mr(comm, data, size, type, mhandle);
}

ncclResult_t net_dereg_mr(void* comm, void* mhandle) {
  if (as_comm(comm, 0) == nullptr) return invalid("deregMr: not a sendComm or recvComm");
  auto* m = static_cast<MemHandle*>(mhandle);
  if (m == nullptr || m->magic != MemHandle::kMagic) return invalid("deregMr: not a memory handle from regMr");
  // The endpoint Device keeps the registration (it has no deregistration); the handle goes.
  m->magic = 0;
  delete m;
  return ncclSuccess;
}

ncclResult_t net_isend(void* send_comm, void* data, int size, int tag, void* mhandle, void** request) {
  auto* c = static_cast<SendComm*>(as_comm(send_comm, Comm::kSendMagic));
  if (c == nullptr) return invalid("isend: not a sendComm");
  if (request == nullptr) return invalid("isend: request is NULL");
  *request = nullptr;
  if (const ncclResult_t e = check_memory("isend", c->device(), data, size, mhandle, "")) return e;
  static const MemHandle kNone;
  const MemHandle& m = mhandle != nullptr ? *static_cast<const MemHandle*>(mhandle) : kNone;
  return guarded("isend", [&] { return c->isend(data, size, tag, m, request); });
}

ncclResult_t net_irecv(void* recv_comm, int n, void** data, int* sizes, int* tags, void** mhandles, void** request) {
  auto* c = static_cast<RecvComm*>(as_comm(recv_comm, Comm::kRecvMagic));
  if (c == nullptr) return invalid("irecv: not a recvComm");
  if (request == nullptr) return invalid("irecv: request is NULL");
  *request = nullptr;
  if (n < 1 || n > kMaxRecvs)
    return invalid("irecv: " + std::to_string(n) + " receives in one call (1.." + std::to_string(kMaxRecvs) + ")");
  if (data == nullptr || sizes == nullptr || tags == nullptr || mhandles == nullptr)
    return invalid("irecv: data, sizes, tags or mhandles is NULL");
  for (int i = 0; i < n; ++i) {
    const std::string which = " (receive " + std::to_string(i) + ")";
    if (const ncclResult_t e = check_memory("irecv", c->device(), data[i], sizes[i], mhandles[i], which.c_str())) return e;
  }
  auto* const* mh = reinterpret_cast<MemHandle* const*>(mhandles);
  return guarded("irecv", [&] { return c->irecv(n, data, sizes, tags, mh, request); });
}

ncclResult_t net_iflush(void* recv_comm, int n, void** /*data*/, int* /*sizes*/, void** /*mhandles*/, void** request) {
  if (as_comm(recv_comm, Comm::kRecvMagic) == nullptr) return invalid("iflush: not a recvComm");
  if (request == nullptr) return invalid("iflush: request is NULL");
  if (n < 1 || n > kMaxRecvs) return invalid("iflush: " + std::to_string(n) + " receives");
  // Host memory: the payload is in place when its receive completes; there is nothing to wait for.
  *request = nullptr;
  return ncclSuccess;
}

ncclResult_t net_test(void* request, int* done, int* sizes) {
  auto* r = static_cast<Request*>(request);
  if (r == nullptr || r->magic != Request::kMagic) return invalid("test: not an outstanding request");
  if (done == nullptr) return invalid("test: done is NULL");
  return guarded("test", [&] { return r->comm->test(r, done, sizes); });
}

namespace {
ncclResult_t close_comm(const char* call, void* p, uint64_t kind) {
  Comm* c = as_comm(p, kind);
  if (c == nullptr) return invalid(std::string(call) + ": not a " + (kind == Comm::kSendMagic ? "sendComm" : "recvComm"));
  return guarded(call, [&]() -> ncclResult_t {
    NetDevice& d = c->device();
    NetDevice::Lock lock(d);
    delete c;
    return ncclSuccess;
  });
}
}  // namespace

ncclResult_t net_close_send(void* send_comm) { return close_comm("closeSend", send_comm, Comm::kSendMagic); }
ncclResult_t net_close_recv(void* recv_comm) { return close_comm("closeRecv", recv_comm, Comm::kRecvMagic); }

ncclResult_t net_close_listen(void* listen_comm) {
  auto* lc = static_cast<ListenComm*>(listen_comm);
  if (lc == nullptr || lc->magic != ListenComm::kMagic) return invalid("closeListen: not a listenComm");
  return guarded("closeListen", [&]() -> ncclResult_t {
    lc->magic = 0;
    delete lc;
    return ncclSuccess;
  });
}

}  // namespace rfab::ncclnet
