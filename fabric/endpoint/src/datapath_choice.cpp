// The names of the packet datapaths, and which of them this build has.
#include "rfab/endpoint/bypass_drivers.hpp"

namespace rfab::endpoint {

std::optional<Datapath> parse_datapath(std::string_view w) {
  if (w == "udp") return Datapath::udp;
  if (w == "afxdp") return Datapath::afxdp;
  if (w == "dpdk") return Datapath::dpdk;
  if (w == "verbs") return Datapath::verbs;
  return std::nullopt;
}

const char* to_string(Datapath d) {
  switch (d) {
    case Datapath::udp: return "udp";
    case Datapath::afxdp: return "afxdp";
    case Datapath::dpdk: return "dpdk";
    case Datapath::verbs: return "verbs";
  }
  return "?";
}

bool datapath_built(Datapath d) {
  switch (d) {
    case Datapath::udp: return true;
#ifdef RFAB_HAVE_AFXDP
    case Datapath::afxdp: return true;
#endif
#ifdef RFAB_HAVE_DPDK
    case Datapath::dpdk: return true;
#endif
#ifdef RFAB_HAVE_VERBS
    case Datapath::verbs: return true;
#endif
    default: return false;
  }
}

}  // namespace rfab::endpoint
