// How long a waiting rank spins before it sleeps. Spinning answers fastest, but when the threads that
// want a CPU outnumber the cores, a spinning rank steals the core its peer or a datapath thread needs.
#pragma once
#include <chrono>
#include <vector>

#include "peer_record.hpp"

namespace rfab::coll {

struct SpinTuning {
  std::chrono::microseconds spin{200};        // EngineEnv::spin: waiting on any transport
  std::chrono::microseconds drive_spin{0};    // EngineEnv::drive_spin: progressing RoCE inline while waiting
};

// CPUs this process may run on (its affinity mask, not the machine's count: containers and `taskset`).
unsigned usable_cores();
// The same CPUs by number, ascending (PeerRecord::cpus); empty if the mask cannot be read.
std::vector<uint32_t> affinity_cpus();

// CPUs the ranks on the kernel `machine` runs on may use between them: the union of their affinities. A
// launcher that pins each rank to its own CPU (rfab run, mpirun --bind-to core) leaves every rank one CPU,
// yet the ranks do not share them. `own` if a record of that kernel carries no CPUs.
unsigned cores_of_kernel(const std::vector<PeerRecord>& records, const std::string& machine, unsigned own);

// Ranks of the job on the kernel `machine` runs on (same boot id), hence sharing its CPUs: those of this
// machine and those in other network namespaces of the same boot.
unsigned ranks_on_this_kernel(const std::vector<PeerRecord>& records, const std::string& machine);

// RFAB_SPIN_US (0..1000000) if set, else 200 us, or 2 us when the application threads (plus one RoCE
// datapath thread per rank when `has_roce`) outnumber `cores`. `inline_progress`: the RoCE transport is
// progressed by the waiting rank (RoceTransport::inline_progress); only then is drive_spin non-zero.
// Throws Error(InvalidArgument) on a malformed RFAB_SPIN_US.
SpinTuning tune_spin(unsigned apps_on_kernel, unsigned cores, bool has_roce, bool inline_progress);

}  // namespace rfab::coll
