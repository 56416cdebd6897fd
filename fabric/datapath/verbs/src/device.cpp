#include "rfab/verbs/device.hpp"

#include <infiniband/verbs.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "rfab/base/env.hpp"

namespace rfab::verbs {
namespace {

int mtu_bytes(ibv_mtu m) { return 128 << static_cast<int>(m); }  // IBV_MTU_256 = 1 ... IBV_MTU_4096 = 5

int env_int(const char* name, int fallback) {
  const char* v = env::raw(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 0 || n > 65535)
    throw VerbsError(std::string(name) + "='" + v + "' is not a valid number");
  return static_cast<int>(n);
}

struct DeviceList {
  ibv_device** list = nullptr;
  int n = 0;
  DeviceList() { list = ibv_get_device_list(&n); }
  ~DeviceList() {
    if (list) ibv_free_device_list(list);
  }
};

struct Ctx {
  ibv_context* c = nullptr;
  explicit Ctx(ibv_device* d) : c(ibv_open_device(d)) {}
  ~Ctx() {
    if (c) ibv_close_device(c);
  }
};

// The first RoCE v2 IPv4-mapped GID of a port (or the forced index, checked), -1 if none.
int pick_gid(ibv_context* ctx, uint8_t port, int table_len, int forced, Gid& gid, std::string& why) {
  auto try_index = [&](int i, bool need_v4) {
    ibv_gid_entry e{};
    if (ibv_query_gid_ex(ctx, port, static_cast<uint32_t>(i), &e, 0) != 0) return false;
    if (e.gid_type != IBV_GID_TYPE_ROCE_V2) return false;
    std::memcpy(gid.data(), e.gid.raw, 16);
    return !need_v4 || is_ipv4_mapped(gid);
  };
  if (forced >= 0) {
    if (forced >= table_len) {
      why = "GID index " + std::to_string(forced) + " is beyond the table (" + std::to_string(table_len) + ")";
      return -1;
    }
    if (try_index(forced, false)) return forced;
    why = "GID index " + std::to_string(forced) + " is empty or not RoCE v2";
    return -1;
  }
  for (int i = 0; i < table_len; ++i)
    if (try_index(i, true)) return i;
  why = "no RoCE v2 GID with an IPv4 address (give the netdev an IPv4 address)";
  return -1;
}

}  // namespace

bool is_ipv4_mapped(const Gid& g) {
  for (int i = 0; i < 10; ++i)
    if (g[static_cast<size_t>(i)] != 0) return false;
  return g[10] == 0xFF && g[11] == 0xFF;
}

std::string Endpoint::ipv4() const {
  if (!is_ipv4_mapped(gid)) return "";
  return std::to_string(gid[12]) + "." + std::to_string(gid[13]) + "." + std::to_string(gid[14]) + "." +
         std::to_string(gid[15]);
}

Selection selection_from_env(Selection s) {
  if (s.device.empty())
    if (const char* d = env::raw("RFAB_VERBS_DEVICE")) s.device = d;
  if (s.port == 0) s.port = env_int("RFAB_VERBS_PORT", 0);
  if (s.gid_index < 0) s.gid_index = env_int("RFAB_VERBS_GID_INDEX", -1);
  return s;
}

Endpoint choose_endpoint(const Selection& s) {
  DeviceList devs;
  if (!devs.list || devs.n == 0)
    throw VerbsError("no RDMA device (libibverbs lists none): use rfab's user-space RoCE, or create a "
                     "soft-RoCE device with `rfab softroce up IFACE`");
  std::string reasons;
  for (int d = 0; d < devs.n; ++d) {
    const std::string name = ibv_get_device_name(devs.list[d]);
    if (!s.device.empty() && name != s.device) continue;
    Ctx ctx(devs.list[d]);
    if (!ctx.c) {
      reasons += "; " + name + ": ibv_open_device failed: " + std::strerror(errno);
      continue;
    }
    ibv_device_attr da{};
    if (ibv_query_device(ctx.c, &da) != 0) {
      reasons += "; " + name + ": ibv_query_device failed";
      continue;
    }
    for (int p = 1; p <= da.phys_port_cnt; ++p) {
      if (s.port != 0 && p != s.port) continue;
      ibv_port_attr pa{};
      const auto port = static_cast<uint8_t>(p);
      if (ibv_query_port(ctx.c, port, &pa) != 0) continue;
      const std::string where = name + " port " + std::to_string(p);
      if (pa.state != IBV_PORT_ACTIVE) {
        reasons += "; " + where + " is " + ibv_port_state_str(pa.state) + ", not ACTIVE";
        continue;
      }
      if (pa.link_layer != IBV_LINK_LAYER_ETHERNET) {
        reasons += "; " + where + " is not Ethernet (RoCE needs Ethernet)";
        continue;
      }
      Endpoint ep;
      std::string why;
      ep.gid_index = pick_gid(ctx.c, port, pa.gid_tbl_len, s.gid_index, ep.gid, why);
      if (ep.gid_index < 0) {
        reasons += "; " + where + ": " + why;
        continue;
      }
      ep.device = name;
      ep.port = port;
      ep.active_mtu = mtu_bytes(pa.active_mtu);
      return ep;
    }
    if (s.port != 0 && s.port > da.phys_port_cnt)
      reasons += "; " + name + " has no port " + std::to_string(s.port);
  }
  if (!s.device.empty() && reasons.empty()) throw VerbsError("no RDMA device named '" + s.device + "'");
  throw VerbsError("no usable RoCE v2 port" + (reasons.empty() ? std::string() : ": " + reasons.substr(2)));
}

std::optional<int> port_active_mtu(const std::string& device, int port) {
  DeviceList devs;
  for (int d = 0; devs.list && d < devs.n; ++d) {
    if (device != ibv_get_device_name(devs.list[d])) continue;
    Ctx ctx(devs.list[d]);
    ibv_port_attr pa{};
    if (!ctx.c || ibv_query_port(ctx.c, static_cast<uint8_t>(port), &pa) != 0) return std::nullopt;
    return mtu_bytes(pa.active_mtu);
  }
  return std::nullopt;
}

}  // namespace rfab::verbs
