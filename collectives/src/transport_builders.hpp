// Construction of a communicator's transports once the ranks know about each other (rendezvous.hpp):
// shared memory with every rank on this machine, RoCE with every rank on another.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "peer_record.hpp"
#include "rfab/collectives/roce_transport.hpp"
#include "rfab/collectives/shm_transport.hpp"
#include "rfab/collectives/store.hpp"

namespace rfab::coll {

// Where this rank stands among the records: which ranks share its machine and which do not.
struct Placement {
  int rank = 0;
  int nranks = 0;
  std::string prefix;                 // the communicator's key prefix in the store
  const std::vector<PeerRecord>* records = nullptr;
  const PeerRecord* mine = nullptr;

  bool local(int r) const;            // same machine as this rank (shared memory)
  int local_count() const;            // ranks on this machine, this one included
  int local_index() const;            // this rank's index among them (RoCE ports on one IP)
  std::vector<int> remote() const;    // ranks on other machines, ascending
};

// The shared-memory transport, connected to every other local rank once its segment exists (each rank
// publishes "<prefix>/seg/<rank>" after creating its own).
std::unique_ptr<ShmTransport> build_shm(StoreClient& store, const Placement& p);

// The RoCE transport to every remote rank (nullptr when there is none): options from the environment
// (RoceOptions::from_env, falling back to the store connection's address), endpoints exchanged under
// "<prefix>/roce/<rank>". `hosts` are the logical hosts of all ranks.
std::unique_ptr<RoceTransport> build_roce(StoreClient& store, const Placement& p, const std::vector<std::string>& hosts,
                                          std::chrono::milliseconds timeout, Doorbell& bell);

}  // namespace rfab::coll
