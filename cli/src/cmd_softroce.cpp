// rfab softroce up IFACE | down [NAME...] | status: the kernel's soft-RoCE (rdma_rxe) through RDMA netlink,
// the same requests as iproute2's `rdma link add NAME type rxe netdev IFACE` and `rdma link delete NAME`.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "checked_options.hpp"
#include "commands.hpp"
#include "doctor_inventory.hpp"
#include "doctor_probes.hpp"
#include "rdma_netlink.hpp"
#include "softroce_shell.hpp"

namespace fs = std::filesystem;

namespace rfab::cli {
namespace {

struct SoftroceOptions {
  std::string iface;
  std::string name = "rxe0";
  std::vector<std::string> names;
  bool json = false;
  int wait_ms = 5000;
};

RdmaNetlink open_netlink() {
  try {
    return RdmaNetlink();
  } catch (const RdmaNetlinkError& e) {
    throw ExitError{1, std::string("softroce: ") + e.what()};
  }
}

const doctor::PortInfo* find_port(const doctor::Inventory& inv, const std::string& dev) {
  for (const auto& p : inv.ports)
    if (p.device == dev) return &p;
  return nullptr;
}

std::string describe(const doctor::PortInfo& p) {
  std::string s = p.device + " on " + (p.netdev.empty() ? "?" : p.netdev) + ": port " + std::to_string(p.port) +
                  " " + p.state;
  if (auto g = doctor::recommended_gid(p)) s += ", RoCE v2 GID index " + std::to_string(*g);
  return s;
}

void run_up(const SoftroceOptions& o) {
  if (!fs::exists(fs::path("/sys/class/net") / o.iface))
    throw ExitError{2, "softroce up: no network interface '" + o.iface + "'"};
  auto nl = open_netlink();
  try {
    nl.new_link(o.name, "rxe", o.iface);
  } catch (const RdmaNetlinkError& e) {
    throw ExitError{1, std::string("softroce up: ") + e.what()};
  }
  // The port turns ACTIVE once rxe has attached to a running netdev; report what we got within the deadline.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.wait_ms);
  for (;;) {
    auto inv = doctor::read_inventory();
    const auto* p = find_port(inv, o.name);
    if (p && p->state == "ACTIVE") {
      std::printf("%s\n", describe(*p).c_str());
      return;
    }
    if (std::chrono::steady_clock::now() >= until) {
      std::printf("%s\n", p ? describe(*p).c_str() : (o.name + " created").c_str());
      throw ExitError{1, "softroce up: " + o.name + " is not ACTIVE after " + std::to_string(o.wait_ms) +
                             " ms (is " + o.iface + " up?)"};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Software devices have no parent bus device in sysfs.
bool is_software(const std::string& dev) { return !fs::exists(fs::path("/sys/class/infiniband") / dev / "device"); }

void run_down(const SoftroceOptions& o) {
  auto nl = open_netlink();
  std::vector<RdmaDevice> devs;
  try {
    devs = nl.devices();
  } catch (const RdmaNetlinkError& e) {
    throw ExitError{1, std::string("softroce down: listing RDMA devices: ") + e.what()};
  }
  std::vector<RdmaDevice> victims;
  if (o.names.empty()) {
    for (const auto& d : devs)
      if (d.name.rfind("rxe", 0) == 0 && is_software(d.name)) victims.push_back(d);
  } else {
    for (const auto& n : o.names) {
      auto it = std::find_if(devs.begin(), devs.end(), [&](const auto& d) { return d.name == n; });
      if (it == devs.end()) throw ExitError{2, "softroce down: no RDMA device named '" + n + "'"};
      victims.push_back(*it);
    }
  }
  for (const auto& d : victims) {
    try {
      nl.del_link(d.index);
    } catch (const RdmaNetlinkError& e) {
      throw ExitError{1, "softroce down " + d.name + ": " + e.what()};
    }
    std::printf("removed %s\n", d.name.c_str());
  }
  if (victims.empty()) std::printf("no soft-RoCE device to remove\n");
}

void run_status(const SoftroceOptions& o) {
  auto inv = doctor::read_inventory();
  auto kernel = doctor::probe_rxe_kernel();
  std::string netlink = "available";
  try {
    RdmaNetlink nl;
  } catch (const RdmaNetlinkError& e) {
    netlink = e.what();
  }
  if (o.json) {
    nlohmann::ordered_json devs = nlohmann::ordered_json::array();
    for (const auto& p : inv.ports) {
      nlohmann::ordered_json j{{"device", p.device}, {"port", p.port}, {"state", p.state}, {"netdev", p.netdev},
                               {"software", is_software(p.device)}};
      if (auto g = doctor::recommended_gid(p)) j["gid_index"] = *g;
      devs.push_back(j);
    }
    nlohmann::ordered_json out{{"devices", devs}, {"rdma_netlink", netlink}, {"kernel_rxe", kernel.detail}};
    std::cout << out.dump(2) << "\n";
    return;
  }
  for (const auto& p : inv.ports)
    std::printf("%s%s\n", describe(p).c_str(), is_software(p.device) ? " (software)" : "");
  if (inv.ports.empty()) std::printf("no RDMA device\n");
  std::printf("rdma netlink: %s\nkernel soft-RoCE: %s\n", netlink.c_str(), kernel.detail.c_str());
}

}  // namespace

void add_softroce(CLI::App& app) {
  auto o = std::make_shared<SoftroceOptions>();
  auto* sub = app.add_subcommand("softroce", "Create, remove or list the kernel's soft-RoCE (rdma_rxe) devices, or run a verbs program on rfab's user-space RoCE");
  sub->require_subcommand(1);
  auto* up = sub->add_subcommand("up", "Create an rxe device on a network interface (needs rdma_rxe)");
  up->add_option("iface", o->iface, "network interface, e.g. eth0")->required();
  up->add_option("--name", o->name, "RDMA device name")->capture_default_str();
  add_integer(up, "--wait-ms", o->wait_ms, "how long to wait for the port to become ACTIVE", 0, 60000)
      ->capture_default_str();
  up->callback([o] { run_up(*o); });
  auto* down = sub->add_subcommand("down", "Remove rxe devices (the named ones, or every software rxe*)");
  down->add_option("names", o->names, "RDMA device names");
  down->callback([o] { run_down(*o); });
  auto* status = sub->add_subcommand("status", "List RDMA devices and whether the kernel offers soft-RoCE");
  status->add_flag("--json", o->json, "JSON output");
  status->callback([o] { run_status(*o); });
  add_softroce_shell(sub);
}

}  // namespace rfab::cli
