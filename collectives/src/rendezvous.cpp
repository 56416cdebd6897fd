#include "rendezvous.hpp"

#include "rfab/collectives/types.hpp"

namespace rfab::coll {

std::vector<PeerRecord> exchange_records(StoreClient& store, const std::string& prefix, int rank, int nranks,
                                         const PeerRecord& mine) {
  // Each rank's slot is claimed once: a second claimant is a rank of another job that reached this store
  // (two jobs on one MASTER_PORT without job ids to tell them apart), and must not join.
  if (const int64_t n = store.add(prefix + "/claim/" + std::to_string(rank), 1); n != 1)
    throw Error(Status::InvalidArgument,
                "rank " + std::to_string(rank) + " of communicator '" + prefix + "' already joined the store at " +
                    store.endpoint() + ": another job uses the same MASTER_ADDR:MASTER_PORT (give each job its own "
                    "port or RFAB_JOB_ID)");
  store.set(prefix + "/info/" + std::to_string(rank), mine.encode());
  std::vector<PeerRecord> records;
  records.reserve(static_cast<size_t>(nranks));
  for (int r = 0; r < nranks; ++r) {
    std::string text;
    try {
      text = store.get(prefix + "/info/" + std::to_string(r));
    } catch (const Error& e) {
      throw Error(e.status(), "rank " + std::to_string(r) + " did not join communicator '" + prefix + "' of " +
                                  std::to_string(nranks) + " ranks: " + e.what());
    }
    PeerRecord rec = PeerRecord::decode(text, r);
    if (rec.nranks != nranks)
      throw Error(Status::InvalidArgument, "rank " + std::to_string(r) + " was started with nranks=" +
                                               std::to_string(rec.nranks) + ", this rank with " + std::to_string(nranks));
    records.push_back(std::move(rec));
  }
  return records;
}

}  // namespace rfab::coll
