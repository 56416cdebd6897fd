// The first step of creating a communicator: every rank publishes its PeerRecord in the store under
// "<prefix>/info/<rank>" and reads everyone's.
#pragma once
#include <string>
#include <vector>

#include "peer_record.hpp"
#include "rfab/collectives/store.hpp"

namespace rfab::coll {

// Returns the records of ranks 0..nranks-1 (ours included). Waits for each within the store's timeout;
// throws Error naming a rank that did not join, a malformed record, or a rank started with another size.
std::vector<PeerRecord> exchange_records(StoreClient& store, const std::string& prefix, int rank, int nranks,
                                         const PeerRecord& mine);

}  // namespace rfab::coll
