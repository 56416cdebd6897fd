#include "emu_partitions.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <exception>
#include <stdexcept>

#include "commands.hpp"
#include "rfab/base/env.hpp"
#include "rfab/emu/partition_comm.hpp"
#ifdef RFAB_HAVE_EMU_MPI
#include "rfab/emu/mpi_comm.hpp"
#endif

namespace rfab::cli {
namespace {

// The ranks mpirun started this process among (OpenMPI's environment, read without initialising MPI); 0
// when mpirun did not start it.
uint32_t launch_ranks() { return uint32_t(env::get_unsigned("OMPI_COMM_WORLD_SIZE", 0, 1u << 30).value_or(0)); }

}  // namespace

EmuPartitions::EmuPartitions(const std::string& value) {
  const bool mpi = value == "mpi" || (value.empty() && launch_ranks() > 1);
  if (!mpi) {
    if (value.empty()) return;
    char* end = nullptr;
    const unsigned long n = std::strtoul(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || n < 1 || n > 256)
      throw ExitError{2, "--partitions: '" + value + "' must be mpi or a number of parts 1..256 (threads of this process)"};
    parts_ = uint32_t(n);
    return;
  }
#ifdef RFAB_HAVE_EMU_MPI
  auto comm = std::make_shared<emu::MpiComm>();
  parts_ = comm->size();
  rank_ = comm->rank();
  mpi_ = std::move(comm);
  if (rank_ != 0) {
    // Every rank gets the same report; one copy of it, and of any error they all meet, is enough.
    saved_stderr_ = ::dup(2);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::close(null);
    }
  }
#else
  throw ExitError{2, std::string("--partitions: ") +
                         (value == "mpi" ? "mpi needs" : "started by mpirun with several ranks, which needs") +
                         " an rfab built with MPI (CMake found none); use --partitions N for N threads instead"};
#endif
}

EmuPartitions::~EmuPartitions() {
  if (saved_stderr_ >= 0) ::close(saved_stderr_);
}

void EmuPartitions::apply(emu::ScenarioSpec& s) const {
  s.partitions = parts_;
  s.comm = mpi_.get();
}

void EmuPartitions::guard(const std::function<void()>& fn) {
  if (!mpi_ || parts_ < 2) return fn();
  try {
    fn();
  } catch (const ExitError&) {
    throw;
  } catch (const std::exception& e) {
#ifdef RFAB_HAVE_EMU_MPI
    const std::string line = "rfab: rank " + std::to_string(rank_) + ": " + e.what() + "\n";
    (void)!::write(saved_stderr_ >= 0 ? saved_stderr_ : 2, line.data(), line.size());
    static_cast<emu::MpiComm&>(*mpi_).abort(2);
#else
    throw;
#endif
  }
}

}  // namespace rfab::cli
