#include "ping_session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>

#include "ping_plan.hpp"

namespace rfab::cli::ping {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<Target> targets(const std::vector<Host>& hosts, const std::vector<size_t>& idx) {
  std::vector<Target> out;
  for (size_t i : idx) out.push_back({i, hosts[i].ip, hosts[i].port});
  return out;
}

}  // namespace

Matrix run_mesh(const std::vector<Host>& hosts, size_t self, SessionOptions o, const std::atomic<bool>& stop,
                std::string* device_name) {
  o.agent.ip = hosts[self].ip;
  o.agent.tcp_port = hosts[self].port;
  if (hosts[self].roce_port) o.agent.roce_port = hosts[self].roce_port;
  o.agent.self = self;
  o.agent.n_hosts = hosts.size();
  Agent agent(o.agent);
  if (device_name) *device_name = agent.roce_address();
  agent.start_probing(targets(hosts, targets_of(hosts.size(), self, o.sample, o.seed)), o.schedule);
  while (!agent.probing_done() && !stop) agent.turn(1'000'000);

  Matrix m;
  for (const Host& h : hosts) m.hosts.push_back(h.name);
  m.reported.assign(hosts.size(), false);
  m.reported[self] = true;
  const std::vector<PairResult> mine = agent.row();

  // Every agent gets this row, and this agent keeps serving probes until every row is in: an agent that
  // started later may still be probing this one.
  Report report{self, mine};
  std::vector<std::future<void>> sends;
  for (size_t i = 0; i < hosts.size(); ++i)
    if (i != self)
      sends.push_back(std::async(std::launch::async, [&hosts, i, report, wait = o.agent.wait] {
        try {
          send_report(hosts[i].ip, hosts[i].port, report, wait);
        } catch (const std::exception&) {
          // The verdict names a host that cannot take reports through its own missing row.
        }
      }));
  const auto until = Clock::now() + o.agent.wait;
  while (agent.server().report_count() + 1 < hosts.size() && Clock::now() < until && !stop) agent.turn(10'000'000);
  // Serve a little longer while reports still go out: peers that finish last may still be probing.
  for (auto& f : sends)
    while (f.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) agent.turn(10'000'000);

  m.pairs = mine;
  for (const auto& [from, r] : agent.server().reports()) {
    if (from == self) continue;
    m.reported[from] = true;
    m.pairs.insert(m.pairs.end(), r.pairs.begin(), r.pairs.end());
  }
  return m;
}

Matrix probe_peers(const std::vector<Host>& peers, SessionOptions o) {
  o.agent.self = 0;
  o.agent.n_hosts = peers.size() + 1;
  Agent agent(o.agent);
  std::vector<Target> t;
  for (size_t i = 0; i < peers.size(); ++i) t.push_back({i + 1, peers[i].ip, peers[i].port});
  agent.start_probing(t, o.schedule);
  while (!agent.probing_done()) agent.turn(1'000'000);
  Matrix m;
  m.hosts.push_back(o.agent.ip);
  for (const Host& p : peers) m.hosts.push_back(p.name);
  m.reported.assign(m.hosts.size(), true);
  m.pairs = agent.row();
  return m;
}

std::string source_ip_for(const std::string& peer_ip) {
  const bool v6 = peer_ip.find(':') != std::string::npos;
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(4791);
    if (inet_pton(AF_INET6, peer_ip.c_str(), &a->sin6_addr) != 1) return ::close(fd), "";
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(4791);
    if (inet_pton(AF_INET, peer_ip.c_str(), &a->sin_addr) != 1) return ::close(fd), "";
    len = sizeof *a;
  }
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) {
    sockaddr_storage me{};
    socklen_t ml = sizeof me;
    char buf[INET6_ADDRSTRLEN] = {};
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &ml) == 0) {
      if (me.ss_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&me)->sin_addr, buf, sizeof buf);
      else inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&me)->sin6_addr, buf, sizeof buf);
      out = buf;
    }
  }
  ::close(fd);
  return out;
}

}  // namespace rfab::cli::ping
