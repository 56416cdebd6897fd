// Device discovery and the queries: ibv_get_device_list and friends, open/close, query_device(_ex),
// query_port, the GID table (one RoCE v2 entry: the interface's address), P_Keys.
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "provider.hpp"
#include "rfab/base/env.hpp"
#include "rfab/endpoint/device.hpp"

namespace rfab::uverbs {

// Ops table (src/verbs_cq.cpp, src/verbs_qp.cpp).
int op_poll_cq(ibv_cq* cq, int n, ibv_wc* wc);
int op_req_notify_cq(ibv_cq* cq, int solicited_only);
int op_post_send(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad);
int op_post_recv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad);
int op_post_srq_recv(ibv_srq* srq, ibv_recv_wr* wr, ibv_recv_wr** bad);

namespace {

struct Table {
  std::vector<Device*> devices;  // never freed: applications keep ibv_device pointers
  int err = 0;
};

struct Choice {
  std::string netdev;
  std::optional<udp::Address> address;
};

std::vector<std::string> split_names(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = s.find(',', at);
    const std::string name = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!name.empty()) out.push_back(name);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

Table build() {
  Table t;
  std::vector<Choice> chosen;
  try {
    if (std::optional<std::string> v = env::get_string("RFAB_VERBS_IFACE")) {
      for (const std::string& item : split_names(*v)) {
        // IFACE or IFACE@ADDRESS (an address of that interface other than its first, e.g. 127.0.0.2 on lo)
        Choice c;
        const size_t at = item.find('@');
        c.netdev = item.substr(0, at);
        if (at != std::string::npos) {
          c.address = udp::Address::parse(item.substr(at + 1), 4791);
          if (!c.address) {
            t.err = fail(EINVAL, "RFAB_VERBS_IFACE='" + *v + "': '" + item.substr(at + 1) +
                                     "' is not a numeric IPv4 or IPv6 address");
            return t;
          }
        }
        if (!read_netdev(c.netdev)) {
          t.err = fail(ENODEV, "RFAB_VERBS_IFACE names '" + c.netdev + "', which is not a network interface here");
          return t;
        }
        chosen.push_back(c);
      }
      if (chosen.empty()) {
        t.err = fail(EINVAL, "RFAB_VERBS_IFACE='" + *v + "' names no interface");
        return t;
      }
    } else {
      for (const std::string& n : default_netdevs()) chosen.push_back(Choice{n, std::nullopt});
    }
  } catch (const std::exception& e) {
    t.err = fail(EINVAL, e.what());
    return t;
  }
  for (const Choice& ch : chosen) {
    const std::string& n = ch.netdev;
    auto* d = new Device();
    std::memset(&d->ibv, 0, sizeof d->ibv);
    d->ibv.node_type = IBV_NODE_CA;
    d->ibv.transport_type = IBV_TRANSPORT_IB;
    std::snprintf(d->ibv.name, sizeof d->ibv.name, "rfab_%s", n.c_str());
    std::snprintf(d->ibv.dev_name, sizeof d->ibv.dev_name, "rfab_%s", n.c_str());
    d->netdev = n;
    d->address = ch.address;
    t.devices.push_back(d);
  }
  return t;
}

const Table& table() {
  static const Table* t = new Table(build());  // leaked on purpose: outlives every static destructor
  return *t;
}

Device* device_of(ibv_device* d) {
  for (Device* x : table().devices)
    if (&x->ibv == d) return x;
  return nullptr;
}

// The netdev as it is now, with the address chosen for the device.
Netdev netdev_or_empty(const Device& dev) {
  std::optional<Netdev> n = read_netdev(dev.netdev);
  if (!n) return Netdev{};
  if (dev.address) n->addr = dev.address;
  return *n;
}

void fill_device_attr(const Device& dev, ibv_device_attr& a) {
  std::memset(&a, 0, sizeof a);
  std::snprintf(a.fw_ver, sizeof a.fw_ver, "rfab");
  a.node_guid = guid_from_mac(netdev_or_empty(dev).mac);
  a.sys_image_guid = a.node_guid;
  a.max_mr_size = ~uint64_t{0};
  a.page_size_cap = 0xfffff000;
  a.vendor_id = 0xffffff;  // no IEEE OUI: the value rxe uses as well
  a.max_qp = 1 << 16;
  a.max_qp_wr = static_cast<int>(kMaxQpWr);
  a.device_cap_flags = IBV_DEVICE_RC_RNR_NAK_GEN | IBV_DEVICE_SHUTDOWN_PORT | IBV_DEVICE_SYS_IMAGE_GUID |
                       IBV_DEVICE_PORT_ACTIVE_EVENT;
  a.max_sge = static_cast<int>(kMaxSge);
  a.max_sge_rd = static_cast<int>(kMaxSge);
  a.max_cq = 1 << 16;
  a.max_cqe = (1 << 24) - 1;
  a.max_mr = 1 << 20;
  a.max_pd = 1 << 16;
  a.max_qp_rd_atom = kMaxRdAtomic;
  a.max_res_rd_atom = kMaxRdAtomic << 16;
  a.max_qp_init_rd_atom = kMaxRdAtomic;
  a.atomic_cap = IBV_ATOMIC_HCA;
  a.max_pkeys = 1;
  a.local_ca_ack_delay = 15;
  a.phys_port_cnt = 1;
}

int query_port_ex(ibv_context* ctx, uint8_t port, ibv_port_attr* attr, size_t len) {
  if (port != 1) return fail(EINVAL, "query_port: the device has port 1 only");
  const ibv_port_attr a = port_attr(*context_of(ctx)->dev);
  std::memcpy(attr, &a, std::min(len, sizeof a));
  return 0;
}

int query_device_ex(ibv_context* ctx, const ibv_query_device_ex_input* input, ibv_device_attr_ex* attr,
                    size_t size) {
  if (input != nullptr && input->comp_mask != 0) return EINVAL;
  if (size < sizeof(ibv_device_attr)) return EINVAL;
  std::memset(attr, 0, std::min(size, sizeof *attr));
  fill_device_attr(*context_of(ctx)->dev, attr->orig_attr);
  return 0;
}

bool gid_of(const Device& dev, udp::Gid& gid) {
  const Netdev n = netdev_or_empty(dev);
  if (!n.addr) return false;
  gid = n.addr->gid();
  return true;
}

}  // namespace

std::span<Device* const> devices() { return table().devices; }

int fail(int err, const char* why) {
  std::fprintf(stderr, "rfab-verbs: %s\n", why);
  errno = err;
  return err;
}
int fail(int err, const std::string& why) { return fail(err, why.c_str()); }

ibv_port_attr port_attr(const Device& dev) {
  const Netdev n = netdev_or_empty(dev);
  ibv_port_attr a;
  std::memset(&a, 0, sizeof a);
  const bool usable = n.up && n.addr.has_value();
  a.state = usable ? IBV_PORT_ACTIVE : IBV_PORT_DOWN;
  a.max_mtu = IBV_MTU_4096;
  const uint8_t mtu = roce_mtu_for(n.mtu, n.addr && n.addr->v6);
  a.active_mtu = static_cast<ibv_mtu>(mtu == 0 ? uint8_t{IBV_MTU_256} : mtu);
  a.gid_tbl_len = 1;
  a.port_cap_flags = IBV_PORT_CM_SUP;
  a.max_msg_sz = 1u << 31;
  a.pkey_tbl_len = 1;
  a.max_vl_num = 1;
  a.active_width = 1;   // 1X
  a.active_speed = 32;  // EDR: a label only; the engine runs as fast as the netdev carries it
  a.phys_state = usable ? 5 : 3;  // LinkUp : Disabled
  a.link_layer = IBV_LINK_LAYER_ETHERNET;
  return a;
}

PortLimits port_limits(const Device& dev) {
  const ibv_port_attr a = port_attr(dev);
  const Netdev n = netdev_or_empty(dev);
  return PortLimits{static_cast<uint8_t>(a.active_mtu), 1, n.addr && n.addr->v6};
}

}  // namespace rfab::uverbs

using namespace rfab;
using namespace rfab::uverbs;

RFAB_VERBS_API ibv_device** ibv_get_device_list(int* num) {
  const auto& t = table();
  if (t.err != 0) {
    errno = t.err;
    if (num != nullptr) *num = 0;
    return nullptr;
  }
  auto** list = static_cast<ibv_device**>(std::calloc(t.devices.size() + 1, sizeof(ibv_device*)));
  if (list == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  for (size_t i = 0; i < t.devices.size(); ++i) list[i] = &t.devices[i]->ibv;
  if (num != nullptr) *num = static_cast<int>(t.devices.size());
  return list;
}

RFAB_VERBS_API void ibv_free_device_list(ibv_device** list) { std::free(list); }

RFAB_VERBS_API const char* ibv_get_device_name(ibv_device* dev) { return dev == nullptr ? nullptr : dev->name; }

RFAB_VERBS_API __be64 ibv_get_device_guid(ibv_device* dev) {
  Device* d = device_of(dev);
  return d == nullptr ? 0 : guid_from_mac(netdev_or_empty(*d).mac);
}

RFAB_VERBS_API int ibv_get_device_index(ibv_device* dev) {
  const auto& all = table().devices;
  for (size_t i = 0; i < all.size(); ++i)
    if (&all[i]->ibv == dev) return static_cast<int>(i);
  return -1;
}

RFAB_VERBS_API ibv_context* ibv_open_device(ibv_device* device) {
  Device* dev = device_of(device);
  if (dev == nullptr) {
    fail(ENODEV, "open_device: not a device of this provider");
    return nullptr;
  }
  std::shared_ptr<Runtime> rt;
  {
    std::lock_guard<std::mutex> g(dev->mu);
    rt = dev->runtime.lock();
    if (!rt) {
      const Netdev n = netdev_or_empty(*dev);
      if (!n.addr) {
        fail(ENODEV, "open_device " + std::string(device->name) + ": interface " + dev->netdev +
                         " has no IPv4 or global IPv6 address");
        return nullptr;
      }
      try {
        rt = std::make_shared<Runtime>(*n.addr);
      } catch (const std::exception& e) {
        fail(EADDRINUSE, "open_device " + std::string(device->name) + ": " + e.what());
        return nullptr;
      }
      dev->runtime = rt;
    }
  }
  auto* c = new Context();
  std::memset(&c->vctx, 0, sizeof c->vctx);
  c->dev = dev;
  c->rt = std::move(rt);
  verbs_context& v = c->vctx;
  v.sz = sizeof(verbs_context);
  v.query_port = query_port_ex;
  v.query_device_ex = query_device_ex;
  ibv_context& ctx = v.context;
  ctx.device = device;
  ctx.ops.poll_cq = op_poll_cq;
  ctx.ops.req_notify_cq = op_req_notify_cq;
  ctx.ops.post_send = op_post_send;
  ctx.ops.post_recv = op_post_recv;
  ctx.ops.post_srq_recv = op_post_srq_recv;
  ctx.cmd_fd = -1;
  ctx.async_fd = ::eventfd(0, EFD_CLOEXEC);  // never signalled: this device raises no async events
  ctx.num_comp_vectors = 1;
  pthread_mutex_init(&ctx.mutex, nullptr);
  ctx.abi_compat = __VERBS_ABI_IS_EXTENDED;
  return &ctx;
}

RFAB_VERBS_API int ibv_close_device(ibv_context* ctx) {
  Context* c = context_of(ctx);
  {
    AppLock l(*c->rt);
    // Objects still open keep their engine state (and the runtime) alive, as a kernel device would until
    // the process ends.
    if (c->objects > 0) return 0;
  }
  if (ctx->async_fd >= 0) ::close(ctx->async_fd);
  delete c;
  return 0;
}

RFAB_VERBS_API int ibv_query_device(ibv_context* ctx, ibv_device_attr* attr) {
  fill_device_attr(*context_of(ctx)->dev, *attr);
  return 0;
}

// The exported (pre-extended) ibv_query_port fills the older, shorter struct ibv_port_attr.
#undef ibv_query_port  // <infiniband/verbs.h> maps the name onto an inline wrapper
RFAB_VERBS_API int ibv_query_port(ibv_context* ctx, uint8_t port, _compat_ibv_port_attr* attr) {
  return query_port_ex(ctx, port, reinterpret_cast<ibv_port_attr*>(attr), offsetof(ibv_port_attr, port_cap_flags2));
}

RFAB_VERBS_API int ibv_query_gid(ibv_context* ctx, uint8_t port, int index, ibv_gid* gid) {
  udp::Gid g;
  if (port != 1 || index != 0 || !gid_of(*context_of(ctx)->dev, g)) {
    errno = EINVAL;
    return -1;
  }
  std::memcpy(gid->raw, g.data(), 16);
  return 0;
}

RFAB_VERBS_API int _ibv_query_gid_ex(ibv_context* ctx, uint32_t port, uint32_t index, ibv_gid_entry* entry,
                                     uint32_t flags, size_t entry_size) {
  if (flags != 0 || entry_size < sizeof(ibv_gid_entry)) return EINVAL;
  if (port != 1 || index != 0) return EINVAL;
  const Device& dev = *context_of(ctx)->dev;
  udp::Gid g;
  if (!gid_of(dev, g)) return ENODATA;
  std::memset(entry, 0, sizeof *entry);
  std::memcpy(entry->gid.raw, g.data(), 16);
  entry->gid_index = 0;
  entry->port_num = 1;
  entry->gid_type = IBV_GID_TYPE_ROCE_V2;
  const std::optional<Netdev> n = read_netdev(dev.netdev);
  entry->ndev_ifindex = n ? n->ifindex : 0;
  return 0;
}

RFAB_VERBS_API ssize_t _ibv_query_gid_table(ibv_context* ctx, ibv_gid_entry* entries, size_t max_entries,
                                            uint32_t flags, size_t entry_size) {
  if (max_entries == 0) return -EINVAL;
  const int r = _ibv_query_gid_ex(ctx, 1, 0, entries, flags, entry_size);
  if (r == ENODATA) return 0;
  return r == 0 ? 1 : -r;
}

RFAB_VERBS_API int ibv_query_pkey(ibv_context*, uint8_t port, int index, __be16* pkey) {
  if (port != 1 || index != 0) {
    errno = EINVAL;
    return -1;
  }
  *pkey = htons(0xffff);  // the default full-membership P_Key, as RoCE devices report it
  return 0;
}

RFAB_VERBS_API int ibv_get_pkey_index(ibv_context*, uint8_t port, __be16 pkey) {
  if (port == 1 && (ntohs(pkey) & 0x7fff) == 0x7fff) return 0;
  errno = ENOENT;
  return -1;
}

// libibverbs' private helper that its own tools (ibv_devinfo) call; the type values are those of
// enum ibv_gid_type_sysfs in <infiniband/driver.h> (1 = RoCE v2).
RFAB_VERBS_API int ibv_query_gid_type(ibv_context* ctx, uint8_t port, unsigned int index, uint32_t* type) {
  ibv_gid_entry e;
  if (_ibv_query_gid_ex(ctx, port, index, &e, 0, sizeof e) != 0) {
    errno = EINVAL;
    return -1;
  }
  *type = 1;
  return 0;
}
