// rfab doctor: the first command a bring-up engineer runs. Checks RDMA devices and ports, MTU, GIDs, QoS and
// error counters (sysfs, DCB netlink, libibverbs when built with it), kernel soft-RoCE availability, rfab's
// user-space RoCE on loopback, and UDP 4791 reachability of the given peers with a short `rfab ping` to
// their ping agents. Exit 1 when any check fails.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checked_options.hpp"
#include "commands.hpp"
#include "doctor_checks.hpp"
#include "doctor_netdev.hpp"
#include "doctor_ping.hpp"
#include "doctor_probes.hpp"
#ifdef RFAB_HAVE_VERBS
#include "rfab/verbs/cm_probe.hpp"
#include "rfab/verbs/device.hpp"
#endif

namespace rfab::cli {
namespace {

struct DoctorOptions {
  std::string peers;
  bool json = false;
  std::string iface;  // the netdev RoCE uses (default: the RDMA ports', else the route to the peers)
  std::string sys_root = "/sys";
  std::string proc_root = "/proc";
  int peer_timeout_ms = 1500;
  uint16_t ping_port = 18520;  // peers' `rfab ping --serve` side channel
};

std::vector<std::string> split_peers(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string p; std::getline(ss, p, ',');) {
    if (p.empty()) throw ExitError{2, "--peers: empty entry in '" + s + "'"};
    out.push_back(p);
  }
  return out;
}

#ifdef RFAB_HAVE_VERBS
// Reachability through the RDMA device: an rdma_cm connection request that only the peer's RDMA stack can
// answer (see rfab/verbs/cm_probe.hpp).
doctor::Check probe_peer_rdma(const std::string& peer, int timeout_ms) {
  using O = verbs::CmProbeResult::Outcome;
  auto r = verbs::cm_probe(peer, 18515, std::chrono::milliseconds(timeout_ms));
  doctor::Check c{"peer " + peer + " rdma_cm", doctor::Verdict::pass, "", ""};
  c.detail = (r.device.empty() ? "" : "via " + r.device + ": ") + r.detail;
  switch (r.outcome) {
    case O::answered: break;
    case O::no_rdma_cm:
      c.verdict = doctor::Verdict::skip;
      c.hint = "load rdma_ucm (`modprobe rdma_ucm`) to probe peers through the RDMA device";
      break;
    case O::no_route:
      c.verdict = doctor::Verdict::fail;
      c.hint = "the route to " + peer + " does not leave through an RDMA device's netdev: check addresses/routes";
      break;
    case O::no_answer:
      c.verdict = doctor::Verdict::fail;
      c.hint = "RoCE packets do not reach an RDMA stack at " + peer +
               " (no RDMA device there, or the fabric drops UDP 4791)";
      break;
  }
  return c;
}
#endif

std::vector<doctor::Check> run_checks(const DoctorOptions& o) {
  using namespace doctor;
  auto inv = read_inventory(o.sys_root);
#ifdef RFAB_HAVE_VERBS
  for (auto& p : inv.ports)  // sysfs has no active MTU; libibverbs does
    if (auto m = verbs::port_active_mtu(p.device, p.port)) p.active_mtu = *m;
#endif
  std::vector<Check> checks;
  checks.push_back(evaluate_devices(inv));
  for (const auto& p : inv.ports) {
    checks.push_back(evaluate_port(p));
    if (p.link_layer == "InfiniBand") continue;
    checks.push_back(evaluate_mtu(p));
    checks.push_back(evaluate_gids(p));
    checks.push_back(probe_qos(p, o.sys_root));
    checks.push_back(evaluate_counters(p));
  }
  if (inv.devices.empty()) checks.push_back(probe_rxe_kernel(o.sys_root));
  // The Ethernet side: the netdev(s) RoCE leaves through, with or without an RNIC.
  const std::vector<std::string> peers = split_peers(o.peers);
  const std::vector<Ipv4Route> routes = parse_ipv4_routes(read_file(o.proc_root + "/net/route"));
  std::vector<std::string> port_netdevs;
  for (const auto& p : inv.ports) port_netdevs.push_back(p.netdev);
  const std::vector<std::string> netdevs = roce_netdevs(o.iface, port_netdevs, peers, routes);
  if (netdevs.empty())
    checks.push_back({"netdev", Verdict::warn, "no RDMA port, no default route and no peer to route to",
                      "name the interface RoCE uses with --iface"});
  for (const auto& name : netdevs) {
    NetdevInfo n = read_netdev(name, o.sys_root, o.proc_root);
    read_addresses(n);
    checks.push_back(evaluate_link(n));
    if (!n.exists) continue;
    checks.push_back(evaluate_netdev_mtu(n));
    checks.push_back(evaluate_addresses(n));
    checks.push_back(evaluate_rp_filter(n));
    if (std::find(port_netdevs.begin(), port_netdevs.end(), name) == port_netdevs.end()) {
      PortInfo as_port;  // no RDMA port on it: its netdev's ECN/PFC only
      as_port.netdev = name;
      Check q = probe_qos(as_port, o.sys_root);
      q.name = "qos " + name;
      checks.push_back(q);
    }
  }
  checks.push_back(probe_userspace_loopback());
  for (const auto& peer : peers) {
    checks.push_back(probe_peer_udp(peer, std::chrono::milliseconds(o.peer_timeout_ms)));
#ifdef RFAB_HAVE_VERBS
    if (!inv.devices.empty()) checks.push_back(probe_peer_rdma(peer, 2 * o.peer_timeout_ms));
#endif
    // After the probe: it made the kernel resolve the next hop.
    checks.push_back(evaluate_neighbour(peer, routes, parse_arp(read_file(o.proc_root + "/net/arp"))));
    checks.push_back(probe_peer_ping(peer, o.ping_port, std::chrono::milliseconds(o.peer_timeout_ms)));
  }
  return checks;
}

void print_text(const std::vector<doctor::Check>& checks) {
  int counts[4] = {0, 0, 0, 0};
  for (const auto& c : checks) {
    ++counts[static_cast<int>(c.verdict)];
    std::printf("[%s] %-28s %s\n", doctor::to_string(c.verdict), c.name.c_str(), c.detail.c_str());
    if (!c.hint.empty()) std::printf("       %-28s fix: %s\n", "", c.hint.c_str());
  }
  std::printf("# %d pass, %d warn, %d fail, %d skip\n", counts[0], counts[1], counts[2], counts[3]);
}

void print_json(const std::vector<doctor::Check>& checks) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const auto& c : checks)
    arr.push_back({{"check", c.name}, {"verdict", doctor::to_string(c.verdict)}, {"detail", c.detail},
                   {"hint", c.hint}});
  nlohmann::ordered_json out{{"checks", arr}, {"ok", !doctor::any_failed(checks)}};
  std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_doctor(CLI::App& app) {
  auto o = std::make_shared<DoctorOptions>();
  auto* sub = app.add_subcommand("doctor", "Check this host's RoCE setup (devices, ports, MTU, GIDs, QoS, "
                                           "counters, soft-RoCE, the Ethernet netdev, user-space RoCE, peers "
                                           "and their neighbour entries)");
  sub->add_option("--peers", o->peers, "comma-separated peer addresses to probe on UDP 4791 and with a short rfab ping");
  sub->add_flag("--json", o->json, "print the checks as JSON");
  sub->add_option("--iface", o->iface, "the network interface RoCE uses (default: the RDMA ports' netdevs, "
                                       "else the route to the first peer, else the default route's)");
  sub->add_option("--sys-root", o->sys_root, "sysfs mount to read (for tests)")->capture_default_str();
  sub->add_option("--proc-root", o->proc_root, "procfs mount to read (for tests)")->capture_default_str();
  add_integer(sub, "--peer-timeout-ms", o->peer_timeout_ms, "deadline per peer probe", 100, 60000)
      ->capture_default_str();
  add_integer(sub, "--ping-port", o->ping_port, "peers' `rfab ping --serve` side-channel port (the short ping)", 1, 65535)
      ->capture_default_str();
  sub->callback([o] {
    auto checks = run_checks(*o);
    o->json ? print_json(checks) : print_text(checks);
    std::cout.flush();
    if (doctor::any_failed(checks)) throw ExitError{1, ""};
  });
}

}  // namespace rfab::cli
