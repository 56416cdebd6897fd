#include "rendezvous.hpp"

#include "rfab/collectives/types.hpp"

namespace rfab::coll {

std::vector<PeerRecord> exchange_records(StoreClient& store, const std::string& prefix, int rank, int nranks,
                                         const PeerRecord& mine) {
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
