// Alltoall: pairwise exchange (bandwidth; every pair's transfer progresses at once) and Bruck's
// log(p)-step algorithm for small blocks.
#include <cstring>
#include <vector>

#include "rfab/collectives/algorithms.hpp"

namespace rfab::coll {

void alltoall_pairwise(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (bytes == 0) return;
  const std::byte* S = static_cast<const std::byte*>(send);
  std::byte* R = static_cast<std::byte*>(recv);
  if (!c.records()) {  // recording the schedule: local copies move nothing between ranks
    if (S == R) {  // in place: send from a copy, since blocks are overwritten while others are still read
      std::byte* copy = c.scratch(bytes * static_cast<size_t>(p), 0);
      std::memcpy(copy, S, bytes * static_cast<size_t>(p));
      S = copy;
    }
    std::memcpy(R + static_cast<size_t>(g.me) * bytes, S + static_cast<size_t>(g.me) * bytes, bytes);
  }
  Exchange x(*c.env, c.what, c.elem);
  for (int k = 1; k < p; ++k) {
    int to = (g.me + k) % p, from = (g.me - k + p) % p;
    x.send(g.at(to), S + static_cast<size_t>(to) * bytes, bytes);
    x.recv(g.at(from), R + static_cast<size_t>(from) * bytes, bytes);
  }
  x.run();
}

void alltoall_bruck(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (bytes == 0) return;
  const size_t P = static_cast<size_t>(p);
  const std::byte* S = static_cast<const std::byte*>(send);
  std::byte* R = static_cast<std::byte*>(recv);
  // tmp[i] holds the block that must travel i ranks forward.
  std::byte* tmp = c.scratch(bytes * P, 0);
  std::byte* pack = c.scratch(bytes * P, 1);
  std::byte* unpack = c.scratch(bytes * P, 3);
  for (size_t i = 0; i < P; ++i) std::memcpy(tmp + i * bytes, S + ((static_cast<size_t>(g.me) + i) % P) * bytes, bytes);
  std::vector<size_t> idx;
  for (int k = 1; k < p; k <<= 1) {
    idx.clear();
    for (size_t i = 0; i < P; ++i)
      if ((i & static_cast<size_t>(k)) != 0) idx.push_back(i);
    for (size_t j = 0; j < idx.size(); ++j) std::memcpy(pack + j * bytes, tmp + idx[j] * bytes, bytes);
    Exchange x(*c.env, c.what, c.elem);
    x.send(g.at(g.me + k), pack, idx.size() * bytes);
    x.recv(g.at(g.me - k), unpack, idx.size() * bytes);
    x.run();
    for (size_t j = 0; j < idx.size(); ++j) std::memcpy(tmp + idx[j] * bytes, unpack + j * bytes, bytes);
  }
  // tmp[i] came from rank me - i.
  for (size_t i = 0; i < P; ++i)
    std::memcpy(R + ((static_cast<size_t>(g.me) + P - i) % P) * bytes, tmp + i * bytes, bytes);
}

}  // namespace rfab::coll
