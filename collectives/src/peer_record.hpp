// What every rank publishes about itself in the rendezvous store when a communicator is created, so the
// others can decide how to reach it (shared memory or RoCE) and check that they agree on the job.
#pragma once
#include <string>

namespace rfab::coll {

struct PeerRecord {
  std::string host;     // logical host name (RFAB_HOSTNAME or the hostname): host groups of hierarchical algorithms
  std::string machine;  // "boot_id/hostname/netns": ranks with equal ones share memory (host_identity.hpp)
  int pid = 0;          // for the shared-memory transport's liveness checks
  std::string segment;  // name of this rank's shared-memory segment
  int nranks = 0;       // the size this rank was started with

  // One line per field, in the order above. The fields may not contain a newline.
  std::string encode() const;
  // Throws Error(Internal) naming `rank` and the problem when `text` is not a record encode() wrote.
  static PeerRecord decode(const std::string& text, int rank);
};

}  // namespace rfab::coll
