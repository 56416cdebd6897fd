// Where a process learns its rank, the world size and the rendezvous address: the environment of the
// launcher it runs under. Checked in this order: rfab run / torchrun (RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), OpenMPI (OMPI_COMM_WORLD_*), Slurm (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE, SLURM_JOB_NODELIST, SLURM_JOB_ID). MASTER_ADDR /
// MASTER_PORT override the derived address under every launcher.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace rfab::coll {

struct LaunchInfo {
  std::string source;  // "torchrun", "openmpi", "slurm" or "single" (no launcher: one rank)
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  int local_world_size = 1;
  std::string master_addr = "127.0.0.1";
  uint16_t master_port = 29500;
  bool store_external = false;  // RFAB_STORE_EXTERNAL=1: the launcher hosts the store, rank 0 must not
  // What identifies the job, checked by the store (store.hpp): RFAB_JOB_ID (rfab run sets a random one),
  // else the launcher's own job id (SLURM_JOB_ID, PMIX_NAMESPACE, OMPI_MCA_ess_base_jobid); "" if none.
  std::string job_id;
};

using EnvLookup = std::function<const char*(const char*)>;

// Reads the launcher variables via `env` (rfab::env::raw by default: the process lookup of
// rfab/base/env.hpp, std::getenv unless a test replaced it). Throws Error(InvalidArgument) naming the
// variable when one is malformed (non-numeric rank, rank >= size, port out of range, ...).
LaunchInfo detect_launch(const EnvLookup& env = nullptr);

// First host of a Slurm hostlist: "node[03-05,7],gpu1" -> "node03".
std::string slurm_first_host(const std::string& nodelist);

}  // namespace rfab::coll
