// The two-path fabric lab (scripts/twopath-fabric.sh, docs/fabric-lab.md) for one test: created by the
// constructor, removed by the destructor (also when the test fails). Names carry the "rtp" prefix, the
// process id and a counter, so concurrent runs do not collide; fabrics left behind by a killed run (its pid
// is gone) are removed at the next start.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace rfab::systest {

// One direction of one path, as the switch-port program on R counts it (rfab-lab-port show --json).
struct PortCounters {
  uint64_t frames = 0, roce_packets = 0, roce_bytes = 0, ce_marked = 0, ce_arrived = 0, not_ect = 0, dropped = 0,
           gso_skbs = 0, dropped_psns = 0, dropped_again = 0;
  std::map<uint16_t, uint64_t> sport_packets;  // RoCE packets per UDP source port
};

// One `rfab perf` run: exit codes, the last JSON object each side printed, and their whole output.
struct PerfOutcome {
  int client_rc = -1, server_rc = -1;
  nlohmann::json client, server;
  std::string client_out, server_out;
  uint64_t c(const char* key) const { return client.value(key, uint64_t{0}); }
  uint64_t s(const char* key) const { return server.value(key, uint64_t{0}); }
};

// A's tbf on the path (tc -s qdisc show), zero when the path is not shaped.
struct QdiscCounters {
  std::string kind;
  uint64_t packets = 0, drops = 0, overlimits = 0;
  uint64_t backlog_bytes = 0;  // queued at the time of the query
};

// The rows of an `rfab coll` table (float results) with their out-of-place and in-place #wrong columns.
struct CollRow {
  std::string line, wrong_out_of_place, wrong_in_place;
};
std::vector<CollRow> coll_rows(const std::string& out);

class TwoPathFabric {
 public:
  TwoPathFabric();
  ~TwoPathFabric();
  TwoPathFabric(const TwoPathFabric&) = delete;
  TwoPathFabric& operator=(const TwoPathFabric&) = delete;

  std::string name, ns_a, ns_r, ns_b;
  const std::string ip_a = "10.90.255.1", ip_b = "10.90.2.2";

  // tbf on A's egress of `path`: rate, burst and queue limit in tc units ("500mbit", "64k", "4m").
  void shape(int path, const std::string& rate, const std::string& burst, const std::string& limit);
  // Knobs of the A->R switch port of `path` (rfab-lab-port options, e.g. {"--drop", "1%", "--seed", "7"}).
  void port(int path, const std::vector<std::string>& knobs);

  // `rfab perf VERB --server --json SERVER_ARGS` in B and `rfab perf VERB <B> --json CLIENT_ARGS` in A, so
  // requests (WRITE data, SENDs, READ requests) flow A -> R -> B. The client gets `timeout` to finish.
  PerfOutcome perf(const std::string& verb, const std::vector<std::string>& client_args,
                   const std::vector<std::string>& server_args = {}, std::chrono::seconds timeout = std::chrono::seconds(60));

  PortCounters forward(int path) const;  // A->R, R's ingress
  PortCounters reverse(int path) const;  // R->A, R's egress
  QdiscCounters qdisc(int path) const;
  // The script's `stats` (both directions of both paths, A's qdiscs), for failure messages.
  std::string dump() const;
  // Runs the script with `args` (after --name), returns its exit code and output.
  int script_status(const std::string& args, std::string& out) const;

  // Opens a UDP socket bound to addr:port inside namespace `ns` (it stays there); -1 on failure.
  static int udp_socket_in(const std::string& ns, const std::string& addr, uint16_t port);

 private:
  std::string script(const std::string& args) const;
  int perf_runs_ = 0;
  PortCounters port_counters(int path, const char* hook) const;
};

}  // namespace rfab::systest
