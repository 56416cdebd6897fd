// How the parts of a partitioned fabric (partition.hpp) talk: hand each other the events that cross
// parts at the end of every window, and combine their counters. Every part calls the same operations in
// the same order (they are collective); an implementation exists per transport: threads of one process
// (ThreadComms, here) and MPI ranks (rfab/emu/mpi_comm.hpp, built when MPI is found).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "rfab/emu/partition.hpp"

namespace rfab::emu {

class PartitionComm {
 public:
  virtual ~PartitionComm() = default;
  virtual uint32_t rank() const = 0;  // this part
  virtual uint32_t size() const = 0;  // parts
  // Whether the parts are separate processes (whose memory adds up) rather than threads of one.
  virtual bool separate_processes() const = 0;
  // Sends out[p] to part p (out.size() == size()); returns what the parts sent here, in part order.
  virtual std::vector<RemoteEvent> exchange(std::vector<std::vector<RemoteEvent>> out) = 0;
  // Element-wise over the parts, in place; every part gets the result. `v` has the same size everywhere.
  enum class Op { sum, min, max };
  virtual void reduce(std::vector<uint64_t>& v, Op op) = 0;
};

// Runs body(comm) on `parts` threads of this process, one per part, each with a comm to the others, and
// waits for them. When a part throws, the others' next operation throws rather than waiting for it forever,
// and the first part's own exception is rethrown here.
void run_on_threads(uint32_t parts, const std::function<void(PartitionComm&)>& body);

}  // namespace rfab::emu
