#include "spin_tuning.hpp"

#include <sched.h>

#include <algorithm>
#include <set>
#include <thread>

#include "env_config.hpp"
#include "host_identity.hpp"

namespace rfab::coll {

unsigned usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::vector<uint32_t> affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<uint32_t> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (uint32_t c = 0; c < CPU_SETSIZE && c < kMaxCpu; ++c)
    if (CPU_ISSET(c, &set)) cpus.push_back(c);
  return cpus;
}

unsigned cores_of_kernel(const std::vector<PeerRecord>& records, const std::string& machine, unsigned own) {
  std::set<uint32_t> cpus;
  for (const PeerRecord& r : records) {
    if (!same_kernel(machine, r.machine)) continue;
    if (r.cpus.empty()) return own;
    cpus.insert(r.cpus.begin(), r.cpus.end());
  }
  return cpus.empty() ? own : static_cast<unsigned>(cpus.size());
}

unsigned ranks_on_this_kernel(const std::vector<PeerRecord>& records, const std::string& machine) {
  unsigned n = 0;
  for (const PeerRecord& r : records) n += same_kernel(machine, r.machine) ? 1 : 0;
  return n;
}

SpinTuning tune_spin(unsigned apps, unsigned cores, bool has_roce, bool inline_progress) {
  // The threads that want a CPU: each rank's application thread, plus its RoCE datapath thread when the
  // job spans machines (then every rank has one).
  const auto env_spin = from_env([] { return env::get_unsigned("RFAB_SPIN_US", 0, 1000000); });
  const uint64_t spin_us = env_spin.value_or(apps * (has_roce ? 2 : 1) > cores ? 2 : 200);
  // A rank that progresses RoCE itself while it waits keeps its datapath thread parked, so only the
  // application threads compete for the cores then. 1 ms: a rank that progresses RoCE while it waits
  // answers in ~20-30 us between namespaces, but one that gave up after 200 us and slept answered
  // through the datapath thread (~100 us or more) in ~1 of 3 runs; MPI and NCCL poll without limit.
  const uint64_t drive_us = env_spin.value_or(apps > cores ? 2 : 1000);
  SpinTuning t;
  t.spin = std::chrono::microseconds(spin_us);
  t.drive_spin = std::chrono::microseconds(has_roce && inline_progress ? drive_us : 0);
  return t;
}

}  // namespace rfab::coll
