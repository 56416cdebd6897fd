// A one-shot `rfab ping` run as an agent takes part in it: serve, probe this host's targets, share rows
// with the other agents, and assemble the matrix. Also the short probe `rfab doctor --peers` runs.
#pragma once
#include <atomic>
#include <string>
#include <vector>

#include "ping_agent.hpp"
#include "ping_hosts.hpp"
#include "ping_stats.hpp"

namespace rfab::cli::ping {

struct SessionOptions {
  AgentConfig agent;  // ip, ports, self and n_hosts are filled in from the host list
  Schedule schedule;
  size_t sample = 0;  // 0 = all pairs
  uint64_t seed = 1;
};

// Runs this host's part of the mesh and returns the matrix from every row that arrived within
// `agent.wait` after this host finished probing (its own always). Stops early when `stop` is set.
Matrix run_mesh(const std::vector<Host>& hosts, size_t self, SessionOptions o, const std::atomic<bool>& stop,
                std::string* device_name = nullptr);

// Probes `peers` (agents started with `rfab ping --serve`) from this host, without reports: the matrix has
// this host (index 0, named `self_name`) and the peers' rows left empty.
Matrix probe_peers(const std::vector<Host>& peers, SessionOptions o);

// The local address the kernel would send from towards `peer_ip` (a connected UDP socket); "" if none.
std::string source_ip_for(const std::string& peer_ip);

}  // namespace rfab::cli::ping
