#include "transport_builders.hpp"

#include <algorithm>

#include "rfab/collectives/types.hpp"

namespace rfab::coll {

bool Placement::local(int r) const { return (*records)[static_cast<size_t>(r)].machine == mine->machine; }

int Placement::local_count() const {
  int n = 0;
  for (int r = 0; r < nranks; ++r) n += local(r) ? 1 : 0;
  return n;
}

int Placement::local_index() const {
  int n = 0;
  for (int r = 0; r < rank; ++r) n += local(r) ? 1 : 0;
  return n;
}

std::vector<int> Placement::remote() const {
  std::vector<int> out;
  for (int r = 0; r < nranks; ++r)
    if (!local(r)) out.push_back(r);
  return out;
}

std::unique_ptr<ShmTransport> build_shm(StoreClient& store, const Placement& p) {
  auto shm = std::make_unique<ShmTransport>(p.rank, p.nranks, p.mine->segment,
                                            ShmTransport::default_ring_bytes(p.local_count()), p.mine->host);
  store.set(p.prefix + "/seg/" + std::to_string(p.rank), "1");
  for (int r = 0; r < p.nranks; ++r) {
    if (r == p.rank || !p.local(r)) continue;
    store.get(p.prefix + "/seg/" + std::to_string(r));
    const PeerRecord& f = (*p.records)[static_cast<size_t>(r)];
    shm->connect(ShmPeer{r, f.pid, f.host, f.segment});
  }
  return shm;
}

std::unique_ptr<RoceTransport> build_roce(StoreClient& store, const Placement& p, const std::vector<std::string>& hosts,
                                          std::chrono::milliseconds timeout, Doorbell& bell) {
  const std::vector<int> remote = p.remote();
  if (remote.empty()) return nullptr;
  const RoceOptions opt = RoceOptions::from_env(store.local_ip(), p.local_index(), timeout);
  auto roce = std::make_unique<RoceTransport>(p.rank, p.nranks, p.mine->host, remote, opt, bell);
  store.set(p.prefix + "/roce/" + std::to_string(p.rank), roce->local().encode());
  std::vector<RoceEndpoint> eps;
  for (int r : remote) {
    RoceEndpoint e = RoceEndpoint::decode(store.get(p.prefix + "/roce/" + std::to_string(r)));
    if (e.rank != r)
      throw Error(Status::Internal, "RoCE endpoint of rank " + std::to_string(r) + " names rank " + std::to_string(e.rank));
    e.host = hosts[static_cast<size_t>(r)];
    eps.push_back(std::move(e));
  }
  roce->connect(eps);
  return roce;
}

}  // namespace rfab::coll
