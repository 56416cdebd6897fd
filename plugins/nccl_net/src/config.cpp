#include "config.hpp"

#include <stdexcept>

#include "rfab/base/env.hpp"

namespace rfab::ncclnet {

Config read_config() {
  Config c;
  for (const char* var : {"RFAB_NCCL_IFACE", "NCCL_SOCKET_IFNAME"}) {
    const std::optional<std::string> spec = env::get_string(var);
    if (!spec) continue;
    try {
      c.ifaces = parse_iface_filter(*spec);
    } catch (const std::invalid_argument& e) {
      env::fail(var, *spec, e.what());
    }
    c.iface_spec = std::string(var) + "=" + *spec;
    break;
  }
  if (const auto t = env::get_choice("RFAB_NCCL_TRANSPORT", {"udp", "verbs", "auto"}))
    c.transport = *t == "udp" ? Transport::udp : *t == "verbs" ? Transport::verbs : Transport::automatic;
  if (const auto s = env::get_unsigned("RFAB_NCCL_TIMEOUT", 1, 3600)) c.timeout = std::chrono::seconds(*s);
  return c;
}

}  // namespace rfab::ncclnet
