#include "mesh_net.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "netns.hpp"

namespace rfab::systest {
namespace {

std::atomic<int> g_counter{0};

// Removes rpg<pid>-* namespaces whose creating process no longer exists (a killed earlier run).
void sweep_stale() {
  int code = 0;
  std::stringstream ss(run_capture("ip netns list", code));
  for (std::string line; std::getline(ss, line);) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind("rpg", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(name.c_str() + 3));
    if (pid > 0 && ::kill(pid, 0) != 0) run_capture("ip netns del " + name, code);
  }
}

}  // namespace

MeshNet::MeshNet(size_t hosts) {
  static std::once_flag swept;
  std::call_once(swept, sweep_stale);
  const std::string base = "rpg" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  ns_switch = base + "-sw";
  try {
    sh("ip netns add " + ns_switch);
    sh("ip -n " + ns_switch + " link add br0 type bridge && ip -n " + ns_switch + " link set br0 up");
    for (size_t i = 0; i < hosts; ++i) {
      ns.push_back(base + "-h" + std::to_string(i));
      ip.push_back("10.92.0." + std::to_string(i + 1));
      const std::string port = "p" + std::to_string(i);
      sh("ip netns add " + ns[i]);
      sh("ip link add eth0 netns " + ns[i] + " type veth peer name " + port + " netns " + ns_switch);
      sh("ip -n " + ns_switch + " link set " + port + " master br0 up");
      sh("ip -n " + ns[i] + " addr add " + ip[i] + "/24 dev eth0 && ip -n " + ns[i] + " link set eth0 up && ip -n " +
         ns[i] + " link set lo up");
    }
  } catch (...) {
    teardown();
    throw;
  }
}

MeshNet::~MeshNet() { teardown(); }

void MeshNet::teardown() {
  int code = 0;
  for (const auto& n : ns) run_capture("ip netns del " + n + " 2>/dev/null", code);
  if (!ns_switch.empty()) run_capture("ip netns del " + ns_switch + " 2>/dev/null", code);
  ns.clear();
  ns_switch.clear();
}

void MeshNet::isolate(size_t i) const { sh("ip -n " + ns_switch + " link set p" + std::to_string(i) + " down"); }

std::string MeshNet::host_file() const {
  const std::string path = "/tmp/" + ns_switch + "-hosts.txt";
  std::ofstream f(path);
  for (const auto& a : ip) f << a << "\n";
  return path;
}

}  // namespace rfab::systest
