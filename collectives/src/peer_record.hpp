// What every rank publishes about itself in the rendezvous store when a communicator is created, so the
// others can decide how to reach it (shared memory or RoCE) and check that they agree on the job.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rfab::coll {

struct PeerRecord {
  std::string host;     // logical host name (RFAB_HOSTNAME or the hostname): host groups of hierarchical algorithms
  std::string machine;  // "boot_id/hostname/netns": ranks with equal ones share memory (host_identity.hpp)
  int pid = 0;          // for the shared-memory transport's liveness checks
  std::string segment;  // name of this rank's shared-memory segment
  int nranks = 0;       // the size this rank was started with
  // CPUs this rank may run on (its affinity when it joined), ascending; empty when unknown. The union over
  // the ranks of one kernel is what they share, even when a launcher pinned each rank to one CPU.
  std::vector<uint32_t> cpus;

  // One line per field, in the order above. The fields may not contain a newline.
  std::string encode() const;
  // Throws Error(Internal) naming `rank` and the problem when `text` is not a record encode() wrote.
  // cpus travel as a Linux CPU list ("0-3,8").
  static PeerRecord decode(const std::string& text, int rank);
};

constexpr uint32_t kMaxCpu = 8192;  // CPU numbers at or above are refused (Linux's NR_CPUS limit)
// "0-3,8" for {0,1,2,3,8}; "" for none. `cpus` ascending.
std::string format_cpu_list(const std::vector<uint32_t>& cpus);
// The inverse; throws ParseError naming the problem (bad number, reversed or overlapping range, CPU >= kMaxCpu).
std::vector<uint32_t> parse_cpu_list(std::string_view text);

}  // namespace rfab::coll
