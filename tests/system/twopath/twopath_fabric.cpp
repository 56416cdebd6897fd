#include "twopath_fabric.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "netns.hpp"

namespace rfab::systest {
namespace {

std::atomic<int> g_counter{0};

std::string script_path() { return std::string(RFAB_SOURCE_DIR) + "/scripts/twopath-fabric.sh"; }
std::string lab_port_path() { return std::string(RFAB_BINARY_DIR) + "/tools/fabric-lab/rfab-lab-port"; }
std::string script_cmd(const std::string& name, const std::string& args) {
  return script_path() + " --name " + name + " --lab-port " + lab_port_path() + " " + args;
}

std::string run_script(const std::string& name, const std::string& args) {
  int code = 0;
  const std::string cmd = script_cmd(name, args);
  std::string out = run_capture(cmd, code);
  if (code != 0) throw std::runtime_error("command failed (" + std::to_string(code) + "): " + cmd + "\n" + out);
  return out;
}

// Removes fabrics rtp<pid>-<n> whose creating process no longer exists (a killed earlier run).
void sweep_stale() {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/var/run/netns", ec)) {
    const std::string ns = e.path().filename();
    if (ns.rfind("rtp", 0) != 0 || ns.size() < 3 || ns.substr(ns.size() - 2) != "-r") continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(ns.c_str() + 3));
    if (pid > 0 && ::kill(pid, 0) != 0 && errno == ESRCH) {
      try {
        run_script(ns.substr(0, ns.size() - 2), "down");
      } catch (const std::exception&) {
      }
    }
  }
}

uint64_t u64(const nlohmann::json& j, const char* key) { return j.value(key, uint64_t{0}); }


}  // namespace

TwoPathFabric::TwoPathFabric() {
  static std::once_flag swept;
  std::call_once(swept, sweep_stale);
  name = "rtp" + std::to_string(::getpid()) + "-" + std::to_string(g_counter++);
  ns_a = name + "-a";
  ns_r = name + "-r";
  ns_b = name + "-b";
  run_script(name, "up");  // removes what it created when it fails
}

TwoPathFabric::~TwoPathFabric() {
  try {
    run_script(name, "down");
  } catch (const std::exception&) {
  }
}

std::string TwoPathFabric::script(const std::string& args) const { return run_script(name, args); }

void TwoPathFabric::shape(int path, const std::string& rate, const std::string& burst, const std::string& limit) {
  script("shape --path " + std::to_string(path) + " --rate " + rate + " --burst " + burst + " --limit " + limit);
}

void TwoPathFabric::port(int path, const std::vector<std::string>& knobs) {
  std::string args = "port --path " + std::to_string(path);
  for (const auto& k : knobs) args += " " + k;
  script(args);
}

PerfOutcome TwoPathFabric::perf(const std::string& verb, const std::vector<std::string>& client_args,
                                const std::vector<std::string>& server_args, std::chrono::seconds timeout) {
  const std::string tag = "/tmp/" + name + "-perf" + std::to_string(perf_runs_++);
  std::vector<std::string> s{rfab_binary(), "perf", verb, "--server", "--json"};
  s.insert(s.end(), server_args.begin(), server_args.end());
  Child server(ns_b, s, tag + "-s.log");
  std::vector<std::string> c{rfab_binary(), "perf", verb, ip_b, "--json"};
  c.insert(c.end(), client_args.begin(), client_args.end());
  Child client(ns_a, c, tag + "-c.log");
  PerfOutcome o;
  o.client_rc = client.wait(timeout);
  o.server_rc = server.wait(std::chrono::seconds(10));
  o.client_out = client.output();
  o.server_out = server.output();
  o.client = last_json(o.client_out);
  o.server = last_json(o.server_out);
  std::filesystem::remove(tag + "-s.log");
  std::filesystem::remove(tag + "-c.log");
  return o;
}

PortCounters TwoPathFabric::port_counters(int path, const char* hook) const {
  int code = 0;
  const std::string out = run_capture(lab_port_path() + " show --json --netns " + ns_r + " --dev r" +
                                          std::to_string(path) + " --hook " + hook + " 2>/dev/null",
                                      code);
  if (code != 0) throw std::runtime_error("rfab-lab-port show failed: " + out);
  const nlohmann::json j = nlohmann::json::parse(out);
  const nlohmann::json& s = j.at("stats");
  PortCounters c;
  c.frames = u64(s, "frames");
  c.roce_packets = u64(s, "roce_packets");
  c.roce_bytes = u64(s, "roce_bytes");
  c.ce_marked = u64(s, "ce_marked");
  c.ce_arrived = u64(s, "ce_arrived");
  c.not_ect = u64(s, "not_ect");
  c.dropped = u64(s, "dropped");
  c.dropped_psns = u64(s, "dropped_psns");
  c.dropped_again = u64(s, "dropped_again");
  c.gso_skbs = u64(s, "gso_skbs");
  for (const auto& [port, packets] : j.at("sport_packets").items())
    c.sport_packets[static_cast<uint16_t>(std::stoul(port))] = packets.get<uint64_t>();
  return c;
}

PortCounters TwoPathFabric::forward(int path) const { return port_counters(path, "ingress"); }
PortCounters TwoPathFabric::reverse(int path) const { return port_counters(path, "egress"); }

QdiscCounters TwoPathFabric::qdisc(int path) const {
  int code = 0;
  const std::string out = run_capture("tc -n " + ns_a + " -s -j qdisc show dev a" + std::to_string(path), code);
  if (code != 0) throw std::runtime_error("tc qdisc show failed: " + out);
  QdiscCounters q;
  for (const auto& e : nlohmann::json::parse(out)) {
    if (e.value("root", false)) {
      q.kind = e.value("kind", "");
      q.packets = u64(e, "packets");
      q.drops = u64(e, "drops");
      q.overlimits = u64(e, "overlimits");
      q.backlog_bytes = u64(e, "backlog");
    }
  }
  return q;
}

int TwoPathFabric::script_status(const std::string& args, std::string& out) const {
  int code = 0;
  out = run_capture(script_cmd(name, args), code);
  return code;
}

int TwoPathFabric::udp_socket_in(const std::string& ns, const std::string& addr, uint16_t port) {
  const int self = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
  int fd = -1;
  if (self >= 0 && target >= 0 && ::setns(target, CLONE_NEWNET) == 0) {
    fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    const int rcvbuf = 8 << 20;
    if (fd >= 0 && (::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr) != 1 ||
                    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0 ||
                    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)) {
      ::close(fd);
      fd = -1;
    }
    ::setns(self, CLONE_NEWNET);
  }
  if (self >= 0) ::close(self);
  if (target >= 0) ::close(target);
  return fd;
}

std::string TwoPathFabric::dump() const {
  try {
    return script("stats");
  } catch (const std::exception& e) {
    return e.what();
  }
}

std::vector<CollRow> coll_rows(const std::string& out) {
  std::vector<CollRow> rows;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    std::vector<std::string> col;
    for (std::string w; f >> w;) col.push_back(w);
    if (col.size() < 13 || col[2] != "float") continue;
    rows.push_back({line, col[8], col[12]});
  }
  return rows;
}

}  // namespace rfab::systest
