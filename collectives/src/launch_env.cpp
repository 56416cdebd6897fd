#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

#include "rfab/base/env.hpp"
#include "rfab/collectives/launch_env.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

namespace {

long parse_int(const EnvLookup& env, const char* name, long lo, long hi) {
  const char* v = env(name);
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v, &end, 10);
  if (end == v || *end != '\0' || errno != 0 || x < lo || x > hi)
    throw Error(Status::InvalidArgument, std::string(name) + "='" + v + "' is not an integer in [" +
                                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

bool has(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  return v != nullptr && *v != '\0';
}

// A port both sides derive from a job identifier when the launcher gives no MASTER_PORT.
uint16_t derived_port(const std::string& job) {
  uint32_t h = 2166136261u;
  for (char c : job) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return static_cast<uint16_t>(20000 + h % 20000);
}

}  // namespace

std::string slurm_first_host(const std::string& nodelist) {
  // Up to the first comma outside brackets.
  std::string first;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
    first.push_back(c);
  }
  auto lb = first.find('[');
  if (lb == std::string::npos) return first;
  std::string prefix = first.substr(0, lb);
  auto rb = first.find(']', lb);
  std::string range = first.substr(lb + 1, (rb == std::string::npos ? first.size() : rb) - lb - 1);
  std::string item = range.substr(0, range.find_first_of(",-"));
  std::string suffix = rb == std::string::npos ? "" : first.substr(rb + 1);
  return prefix + item + suffix;
}

LaunchInfo detect_launch(const EnvLookup& lookup) {
  EnvLookup env = lookup ? lookup : EnvLookup([](const char* n) { return env::raw(n); });
  LaunchInfo li;
  if (has(env, "RANK") && has(env, "WORLD_SIZE")) {
    li.source = "torchrun";
    li.world_size = static_cast<int>(parse_int(env, "WORLD_SIZE", 1, 1 << 20));
    li.rank = static_cast<int>(parse_int(env, "RANK", 0, li.world_size - 1));
    li.local_rank = has(env, "LOCAL_RANK") ? static_cast<int>(parse_int(env, "LOCAL_RANK", 0, 1 << 20)) : li.rank;
    li.local_world_size = has(env, "LOCAL_WORLD_SIZE")
                              ? static_cast<int>(parse_int(env, "LOCAL_WORLD_SIZE", 1, 1 << 20))
                              : li.world_size;
    if (!has(env, "MASTER_ADDR") || !has(env, "MASTER_PORT"))
      throw Error(Status::InvalidArgument, "RANK and WORLD_SIZE are set but MASTER_ADDR / MASTER_PORT are not");
  } else if (has(env, "OMPI_COMM_WORLD_RANK") && has(env, "OMPI_COMM_WORLD_SIZE")) {
    li.source = "openmpi";
    li.world_size = static_cast<int>(parse_int(env, "OMPI_COMM_WORLD_SIZE", 1, 1 << 20));
    li.rank = static_cast<int>(parse_int(env, "OMPI_COMM_WORLD_RANK", 0, li.world_size - 1));
    li.local_rank = has(env, "OMPI_COMM_WORLD_LOCAL_RANK")
                        ? static_cast<int>(parse_int(env, "OMPI_COMM_WORLD_LOCAL_RANK", 0, 1 << 20))
                        : li.rank;
    li.local_world_size = has(env, "OMPI_COMM_WORLD_LOCAL_SIZE")
                              ? static_cast<int>(parse_int(env, "OMPI_COMM_WORLD_LOCAL_SIZE", 1, 1 << 20))
                              : li.world_size;
    // All ranks on one node: loopback. Across nodes the user sets MASTER_ADDR (OpenMPI exports no address).
    if (li.local_world_size != li.world_size && !has(env, "MASTER_ADDR"))
      throw Error(Status::InvalidArgument, "OpenMPI job spans nodes: set MASTER_ADDR to rank 0's host (mpirun -x)");
    std::string job = has(env, "PMIX_NAMESPACE") ? env("PMIX_NAMESPACE")
                      : has(env, "OMPI_MCA_ess_base_jobid") ? env("OMPI_MCA_ess_base_jobid")
                                                           : "ompi";
    li.master_port = derived_port(job);
    if (job != "ompi") li.job_id = "ompi-" + job;
  } else if (has(env, "SLURM_PROCID") && has(env, "SLURM_NTASKS")) {
    li.source = "slurm";
    li.world_size = static_cast<int>(parse_int(env, "SLURM_NTASKS", 1, 1 << 20));
    li.rank = static_cast<int>(parse_int(env, "SLURM_PROCID", 0, li.world_size - 1));
    li.local_rank = has(env, "SLURM_LOCALID") ? static_cast<int>(parse_int(env, "SLURM_LOCALID", 0, 1 << 20)) : 0;
    if (has(env, "SLURM_NTASKS_PER_NODE")) {
      // "4" or "4(x2)": the leading number is what this node runs.
      li.local_world_size = std::max(1, std::atoi(env("SLURM_NTASKS_PER_NODE")));
    } else {
      li.local_world_size = has(env, "SLURM_NNODES") && std::atoi(env("SLURM_NNODES")) == 1 ? li.world_size : 1;
    }
    const char* nodes = has(env, "SLURM_JOB_NODELIST") ? env("SLURM_JOB_NODELIST")
                        : has(env, "SLURM_NODELIST")   ? env("SLURM_NODELIST")
                                                       : nullptr;
    li.master_addr = nodes != nullptr ? slurm_first_host(nodes) : "127.0.0.1";
    li.master_port = derived_port(has(env, "SLURM_JOB_ID") ? env("SLURM_JOB_ID") : "slurm");
    if (has(env, "SLURM_JOB_ID")) li.job_id = std::string("slurm-") + env("SLURM_JOB_ID");
  } else {
    li.source = "single";
  }
  if (has(env, "MASTER_ADDR")) li.master_addr = env("MASTER_ADDR");
  if (has(env, "MASTER_PORT")) li.master_port = static_cast<uint16_t>(parse_int(env, "MASTER_PORT", 1, 65535));
  // rfab run gives PyTorch MASTER_PORT (its rank 0 binds a TCPStore there) and rfab's store this port.
  if (has(env, "RFAB_STORE_PORT"))
    li.master_port = static_cast<uint16_t>(parse_int(env, "RFAB_STORE_PORT", 1, 65535));
  if (has(env, "RFAB_JOB_ID")) li.job_id = env("RFAB_JOB_ID");
  li.store_external = has(env, "RFAB_STORE_EXTERNAL") && std::strcmp(env("RFAB_STORE_EXTERNAL"), "0") != 0;
  if (li.local_rank >= li.local_world_size && li.source != "single")
    li.local_world_size = li.local_rank + 1;  // keep the invariant; only used for spin tuning
  return li;
}

}  // namespace rfab::coll
