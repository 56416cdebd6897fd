// `rfab ping`'s host list: where it comes from (a file of host[:port] lines, a Slurm nodelist, the ranks of
// `rfab run`), how names become addresses, and which entry is this host. Every host runs the same list, so
// every agent numbers the hosts the same way (their order in the list).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rfab::cli::ping {

// A host as the list names it, before name resolution.
struct HostEntry {
  std::string name;      // host name or numeric address
  uint16_t port = 0;     // the agent's TCP side-channel port
  uint16_t roce_port = 0;  // the agent's RoCE UDP port (0 = the command's --roce-port)
};

// A host with its address.
struct Host {
  std::string name;
  std::string ip;  // numeric, as the agent binds and peers reach it
  uint16_t port = 0;
  uint16_t roce_port = 0;
  std::string label() const { return name; }
};

// A mesh is at most this many hosts: bounds what a typo in a nodelist ("n[1-9999999]") can expand to.
constexpr size_t kMaxHosts = 16384;

// Expands a Slurm nodelist: "node[01-04,07],gpu-a[1-2]-b[1-2]" -> node01 node02 node03 node04 node07
// gpu-a1-b1 gpu-a1-b2 gpu-a2-b1 gpu-a2-b2. Zero padding follows the lower bound of a range ("01-10"
// gives 01..10). Throws std::invalid_argument naming the problem (unbalanced bracket, a range going
// down, not a number, more than kMaxHosts names).
std::vector<std::string> expand_nodelist(std::string_view list);

// "host", "host:port", "[v6addr]:port", "v6addr" (several colons, no brackets: no port).
// Throws std::invalid_argument naming the entry.
HostEntry parse_host_entry(std::string_view entry, uint16_t default_port);
// A host file: one host[:port] per line; blank lines and '#' comments are skipped. Throws
// std::invalid_argument naming the line.
std::vector<HostEntry> parse_host_lines(std::string_view text, uint16_t default_port);
// The hosts of `rfab run -n N` (its ranks are processes on this machine): rank r is 127.0.0.1 with TCP
// port base_port + r and RoCE port base_roce_port + r.
std::vector<HostEntry> rank_hosts(size_t world_size, uint16_t base_port, uint16_t base_roce_port);

// Resolves every name (getaddrinfo; the first IPv4 address, else the first IPv6 one). Throws
// std::invalid_argument naming the host that does not resolve, and on a host listed twice.
std::vector<Host> resolve_hosts(const std::vector<HostEntry>& entries);

// This machine's interface addresses (getifaddrs), numeric.
std::vector<std::string> local_addresses();

// The index of this host: `self` (a name or address of the list) when given, else the one entry whose
// address is local. Throws std::invalid_argument when none or several match (say --self then).
size_t find_self(const std::vector<Host>& hosts, const std::string& self, const std::vector<std::string>& local_ips);

}  // namespace rfab::cli::ping
