// Which algorithm runs when the user did not force one (RFAB_ALGO or the per-call override). Thresholds
// come from scripts/bench-coll.sh runs (bench/results); latency-bound sizes use log-step algorithms, large sizes
// the bandwidth-optimal ring.
#include "rfab/collectives/algorithms.hpp"

namespace rfab::coll {

namespace {
bool implements(Coll coll, Algo a) {
  switch (coll) {
    case Coll::AllReduce:
      return a == Algo::Ring || a == Algo::Rhd || a == Algo::RecursiveDoubling || a == Algo::Tree || a == Algo::Hier;
    case Coll::Broadcast:
    case Coll::Reduce: return a == Algo::Tree || a == Algo::Chain;
    case Coll::AllGather:
    case Coll::ReduceScatter: return a == Algo::Ring;
    case Coll::AllToAll: return a == Algo::Pairwise || a == Algo::Bruck;
    case Coll::SendRecv:
    case Coll::Barrier: return false;
  }
  return false;
}
}  // namespace

Algo select_algo(Coll coll, size_t bytes, int nranks, int nhosts, Algo forced) {
  if (forced != Algo::Auto) {
    if (!implements(coll, forced))
      throw Error(Status::InvalidArgument, std::string("algorithm '") + std::string(algo_name(forced)) +
                                               "' does not implement " + std::string(coll_name(coll)));
    return forced;
  }
  switch (coll) {
    case Coll::AllReduce:
      if (nhosts > 1 && nhosts < nranks) return Algo::Hier;
      if (bytes <= (size_t{16} << 10)) return Algo::RecursiveDoubling;
      // Two ranks on two hosts: one exchange of the whole buffer (rd) beats the ring's two dependent
      // exchanges of halves while a network round trip costs more than moving the extra half (RoCE between
      // namespaces: 64 KiB 64 vs 92 us, 256 KiB 150 vs 220-240 us; about even at 512 KiB).
      if (bytes <= (size_t{256} << 10) && nranks == 2 && nhosts == 2) return Algo::RecursiveDoubling;
      if (bytes <= (size_t{1} << 20) && nranks > 2) return Algo::Rhd;
      return Algo::Ring;
    case Coll::Broadcast:
    case Coll::Reduce: return (bytes >= (size_t{4} << 20) && nranks <= 4) ? Algo::Chain : Algo::Tree;
    case Coll::AllGather:
    case Coll::ReduceScatter: return Algo::Ring;
    case Coll::AllToAll: return (bytes / static_cast<size_t>(nranks > 0 ? nranks : 1) <= 256 && nranks > 2)
                                    ? Algo::Bruck
                                    : Algo::Pairwise;
    case Coll::SendRecv:
    case Coll::Barrier: return Algo::Auto;
  }
  return Algo::Auto;
}

}  // namespace rfab::coll
