// The parts of a partitioned emulation (partition_comm.hpp) as MPI ranks: one process per part, on one
// machine or several (`mpirun -np N rfab emulate ...`). Built only when CMake finds MPI (RFAB_HAVE_EMU_MPI).
#pragma once
#include <cstdint>
#include <vector>

#include "rfab/emu/partition_comm.hpp"

namespace rfab::emu {

class MpiComm final : public PartitionComm {
 public:
  // Initialises MPI unless something already did (then it also leaves finalising to that), over
  // MPI_COMM_WORLD: rank i runs part i.
  MpiComm();
  ~MpiComm() override;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;

  uint32_t rank() const override { return rank_; }
  uint32_t size() const override { return size_; }
  bool separate_processes() const override { return true; }
  std::vector<RemoteEvent> exchange(std::vector<std::vector<RemoteEvent>> out) override;
  void reduce(std::vector<uint64_t>& v, Op op) override;
  // Ends every rank's process with `code` (a rank that failed alone, which the others would wait for).
  [[noreturn]] void abort(int code);

 private:
  uint32_t rank_ = 0, size_ = 1;
  bool finalize_ = false;
};

}  // namespace rfab::emu
