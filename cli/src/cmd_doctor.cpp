// rfab doctor: the first command a bring-up engineer runs. Checks RDMA devices and ports, MTU, GIDs, QoS and
// error counters (sysfs, DCB netlink, libibverbs when built with it), kernel soft-RoCE availability, rfab's
// user-space RoCE on loopback, and UDP 4791 reachability of the given peers. Exit 1 when any check fails.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checked_options.hpp"
#include "commands.hpp"
#include "doctor_checks.hpp"
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
  std::string sys_root = "/sys";
  int peer_timeout_ms = 1500;
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
  checks.push_back(probe_userspace_loopback());
  for (const auto& peer : split_peers(o.peers)) {
    checks.push_back(probe_peer_udp(peer, std::chrono::milliseconds(o.peer_timeout_ms)));
#ifdef RFAB_HAVE_VERBS
    if (!inv.devices.empty()) checks.push_back(probe_peer_rdma(peer, 2 * o.peer_timeout_ms));
#endif
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
                                           "counters, soft-RoCE, user-space RoCE, peers)");
  sub->add_option("--peers", o->peers, "comma-separated peer addresses to probe on UDP 4791");
  sub->add_flag("--json", o->json, "print the checks as JSON");
  sub->add_option("--sys-root", o->sys_root, "sysfs mount to read (for tests)")->capture_default_str();
  add_integer(sub, "--peer-timeout-ms", o->peer_timeout_ms, "deadline per peer probe", 100, 60000)
      ->capture_default_str();
  sub->callback([o] {
    auto checks = run_checks(*o);
    o->json ? print_json(checks) : print_text(checks);
    std::cout.flush();
    if (doctor::any_failed(checks)) throw ExitError{1, ""};
  });
}

}  // namespace rfab::cli
