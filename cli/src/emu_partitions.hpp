// rfab emulate --partitions: the packet-level fabric split by pods into parts that run side by side, on
// threads of this process (a number) or one per MPI rank (`mpi`, the default when mpirun started rfab with
// several ranks). The run's report is the same whichever; under MPI only rank 0 prints and writes files.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "rfab/emu/scenario.hpp"

namespace rfab::cli {

class EmuPartitions {
 public:
  // `value`: "" (automatic), "mpi", or a number of parts 1..256. Throws ExitError{2} for a bad value, for mpi
  // in an rfab built without MPI, and for several ranks without mpi support (each would run the whole thing).
  explicit EmuPartitions(const std::string& value);
  ~EmuPartitions();
  EmuPartitions(const EmuPartitions&) = delete;
  EmuPartitions& operator=(const EmuPartitions&) = delete;

  bool partitioned() const { return parts_ > 1 || mpi_ != nullptr; }
  uint32_t parts() const { return parts_; }
  bool root() const { return rank_ == 0; }  // the process that prints and writes files
  void apply(emu::ScenarioSpec& s) const;
  // Runs `fn`. Under MPI with several ranks, an error that is not the user's (ExitError, which every rank
  // meets alike) may have hit this rank alone while the others wait for it: it is printed and ends them all.
  void guard(const std::function<void()>& fn);

 private:
  uint32_t parts_ = 1, rank_ = 0;
  std::shared_ptr<emu::PartitionComm> mpi_;  // MpiComm when running over MPI
  int saved_stderr_ = -1;                    // a rank other than 0 prints only a fatal error, here
};

}  // namespace rfab::cli
