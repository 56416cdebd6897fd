#include "doctor_checks.hpp"

#include <algorithm>

namespace rfab::cli::doctor {
namespace {

std::string port_name(const PortInfo& p) { return p.device + "/" + std::to_string(p.port); }

struct CounterHint {
  const char* name;
  const char* meaning;
  const char* hint;
};

// Counters that mean trouble on a RoCE fabric (mlx5 names first, then rxe's names for the same events).
constexpr CounterHint kCounterHints[] = {
    {"out_of_sequence", "packets arrived out of sequence (loss or reordering)",
     "lossy fabric: enable PFC on the RoCE priority or ECN/DCQCN end to end; check switch drop counters"},
    {"local_ack_timeout_err", "requests timed out waiting for an ACK",
     "the peer is unreachable or drops packets: check cabling, MTU end to end and PFC/ECN"},
    {"rnr_nak_retry_err", "receiver-not-ready retries were exhausted",
     "the receiving application posts receives too slowly: post more receive WRs or raise rnr_retry"},
    {"np_cnp_sent", "CNPs sent (ECN-marked packets received: congestion)",
     "congestion on the path: check DCQCN parameters and the switch ECN marking thresholds"},
    {"packet_seq_err", "NAK sequence errors received", "packet loss on the path: see out_of_sequence"},
    {"rcvd_seq_err", "sequence errors received (rxe)", "packet loss or reordering between the peers"},
    {"retry_exceeded_err", "transport retries exhausted (rxe)",
     "the peer stopped answering: check that it is up and reachable on UDP 4791"},
    {"retry_rnr_exceeded_err", "RNR retries exhausted (rxe)",
     "the receiver posts receives too slowly: post more receive WRs"},
    {"completer_retry_err", "requester retransmitted after a timeout (rxe)", "packet loss on the path"},
    {"link_downed", "the link went down", "check the netdev and cable (ip link, ethtool)"},
};

}  // namespace

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::pass: return "pass";
    case Verdict::warn: return "warn";
    case Verdict::fail: return "fail";
    case Verdict::skip: return "skip";
  }
  return "?";
}

Check evaluate_devices(const Inventory& inv) {
  Check c{"rdma devices", Verdict::pass, "", ""};
  if (inv.devices.empty()) {
    c.verdict = Verdict::warn;
    c.detail = "no RDMA device (no /sys/class/infiniband entries)";
    c.hint = "rfab uses its user-space RoCE over UDP here; for the kernel's soft-RoCE run `rfab softroce up IFACE`";
    return c;
  }
  for (size_t i = 0; i < inv.devices.size(); ++i) c.detail += (i ? ", " : "") + inv.devices[i];
  c.detail = std::to_string(inv.devices.size()) + " device(s): " + c.detail;
  return c;
}

Check evaluate_port(const PortInfo& p) {
  Check c{"port " + port_name(p), Verdict::pass, "", ""};
  c.detail = "state " + p.state + ", physical " + p.phys_state + ", " +
             (p.link_layer.empty() ? "link layer ?" : p.link_layer) + (p.rate.empty() ? "" : ", " + p.rate) +
             (p.netdev.empty() ? "" : ", netdev " + p.netdev);
  if (p.phys_state != "LinkUp") {
    c.verdict = Verdict::fail;
    c.hint = "physical link is not up: check the cable/transceiver and `ip link set " +
             (p.netdev.empty() ? std::string("<netdev>") : p.netdev) + " up`";
  } else if (p.state != "ACTIVE") {
    c.verdict = Verdict::fail;
    c.hint = "port is not ACTIVE: on Ethernet bring the netdev up and give it an address; on InfiniBand "
             "start a subnet manager";
  } else if (p.link_layer != "Ethernet") {
    c.verdict = Verdict::warn;
    c.hint = "link layer is " + p.link_layer + ", not Ethernet: RoCE v2 needs an Ethernet port";
  }
  return c;
}

Check evaluate_mtu(const PortInfo& p) {
  Check c{"mtu " + port_name(p), Verdict::pass, "", ""};
  if (!p.netdev_mtu) {
    c.verdict = Verdict::skip;
    c.detail = "netdev MTU not visible";
    return c;
  }
  const int fit = largest_ib_mtu_for(*p.netdev_mtu);
  c.detail = "netdev " + p.netdev + " MTU " + std::to_string(*p.netdev_mtu) + " fits RoCE MTU " +
             std::to_string(fit);
  if (p.active_mtu) c.detail += ", active MTU " + std::to_string(*p.active_mtu);
  if (fit == 0) {
    c.verdict = Verdict::fail;
    c.hint = "netdev MTU too small for any RoCE MTU: set it to at least 1104 (`ip link set " + p.netdev +
             " mtu 1500`)";
  } else if (p.active_mtu && *p.active_mtu > fit) {
    c.verdict = Verdict::fail;
    c.hint = "active MTU exceeds what the netdev carries: full-size packets will be dropped; raise the netdev "
             "MTU to " + std::to_string(*p.active_mtu + 80) + " or more";
  } else if (p.active_mtu && *p.active_mtu < fit) {
    c.verdict = Verdict::warn;
    c.hint = "the port could use RoCE MTU " + std::to_string(fit) + "; check the port's max MTU setting";
  } else if (fit < 4096) {
    c.verdict = Verdict::warn;
    c.hint = "RoCE MTU 4096 needs netdev MTU >= 4176 (jumbo frames end to end): `ip link set " + p.netdev +
             " mtu 9000`";
  }
  return c;
}

Check evaluate_gids(const PortInfo& p) {
  Check c{"gid " + port_name(p), Verdict::pass, "", ""};
  if (p.link_layer == "InfiniBand") {
    c.verdict = Verdict::skip;
    c.detail = "InfiniBand port: RoCE GID types do not apply";
    return c;
  }
  int v1 = 0, v2 = 0;
  for (const auto& g : p.gids) (g.type == "RoCE v2" ? v2 : v1)++;
  c.detail = std::to_string(v1) + " RoCE v1 and " + std::to_string(v2) + " RoCE v2 entries";
  if (auto idx = recommended_gid(p)) {
    const auto it = std::find_if(p.gids.begin(), p.gids.end(), [&](const auto& g) { return g.index == *idx; });
    c.detail += "; use GID index " + std::to_string(*idx) + " (RoCE v2, " + it->ipv4() + ")";
  } else if (v2 > 0) {
    c.verdict = Verdict::warn;
    c.detail += "; no IPv4-mapped RoCE v2 entry";
    c.hint = "only IPv6 RoCE v2 GIDs: add an IPv4 address to " +
             (p.netdev.empty() ? std::string("the netdev") : p.netdev) + " for IPv4 peers";
  } else {
    c.verdict = Verdict::fail;
    c.hint = "no RoCE v2 GID: assign an IP address to " +
             (p.netdev.empty() ? std::string("the netdev") : p.netdev) + " (GIDs follow its addresses)";
  }
  return c;
}

Check evaluate_counters(const PortInfo& p) {
  Check c{"counters " + port_name(p), Verdict::pass, "", ""};
  if (p.counters.empty()) {
    c.verdict = Verdict::skip;
    c.detail = "no counters exposed in sysfs";
    return c;
  }
  std::vector<std::string> seen;
  for (const auto& h : kCounterHints) {
    auto it = p.counters.find(h.name);
    if (it == p.counters.end()) continue;
    seen.push_back(h.name);
    if (it->second == 0) continue;
    c.verdict = Verdict::warn;
    c.detail += (c.detail.empty() ? "" : "; ") + std::string(h.name) + "=" + std::to_string(it->second) + " (" +
                h.meaning + ")";
    c.hint += (c.hint.empty() ? "" : "; ") + std::string(h.hint);
  }
  if (c.verdict == Verdict::pass) {
    c.detail = seen.empty() ? std::to_string(p.counters.size()) + " counters, none of the error counters rfab "
                                                                    "knows"
                            : "error counters zero (" + std::to_string(seen.size()) + " checked)";
  }
  return c;
}

bool any_failed(const std::vector<Check>& checks) {
  return std::any_of(checks.begin(), checks.end(), [](const Check& c) { return c.verdict == Verdict::fail; });
}

}  // namespace rfab::cli::doctor
