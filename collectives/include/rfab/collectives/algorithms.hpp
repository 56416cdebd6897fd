// Collective algorithms, each written once against the Exchange engine (and so against any transport).
// They run over a Group (an ordered subset of ranks), which is how the hierarchical algorithm reuses the
// flat ones inside a host and across hosts. Buffers are raw bytes; `count` is in elements. Avg is handled by
// the caller (reduce as Sum, divide once at the end).
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

#include "rfab/collectives/exchange.hpp"
#include "rfab/collectives/types.hpp"

namespace rfab::coll {

struct Group {
  std::vector<int> ranks;  // global ranks, in group order
  int me = 0;              // my index in `ranks`
  int size() const { return static_cast<int>(ranks.size()); }
  int at(int i) const {  // wraps around
    int p = size();
    return ranks[static_cast<size_t>(((i % p) + p) % p)];
  }
};

struct AlgoCtx {
  const EngineEnv* env = nullptr;
  DataType dtype = DataType::U8;
  size_t elem = 1;
  ReduceFn fn = nullptr;
  std::string what;
  // Scratch memory owned by the communicator; `slot` picks one of several independent buffers.
  std::function<std::byte*(size_t bytes, int slot)> scratch;
  // Recording a schedule (EngineEnv::recorder): local copies are skipped, since no data moves.
  bool records() const { return env != nullptr && env->recorder != nullptr; }
};

// Splits count into p nearly equal blocks (the first count % p get one more element).
struct Blocks {
  size_t count, p;
  size_t len(size_t i) const { return count / p + (i < count % p ? 1 : 0); }
  size_t off(size_t i) const { return i * (count / p) + (i < count % p ? i : count % p); }
};

void allreduce_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void allreduce_rhd(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void allreduce_rd(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void allreduce_tree(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
// hosts: the groups of ranks sharing a host, in order; every rank appears exactly once.
void allreduce_hier(const AlgoCtx& c, const std::vector<Group>& hosts, const Group& leaders, int my_host,
                    const void* send, void* recv, size_t count, Algo inter);

void allgather_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void reducescatter_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void broadcast_tree(const AlgoCtx& c, const Group& g, int root, void* buf, size_t count);
void broadcast_chain(const AlgoCtx& c, const Group& g, int root, void* buf, size_t count);
// recv is only written on the root.
void reduce_tree(const AlgoCtx& c, const Group& g, int root, const void* send, void* recv, size_t count);
void reduce_chain(const AlgoCtx& c, const Group& g, int root, const void* send, void* recv, size_t count);
void alltoall_pairwise(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void alltoall_bruck(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count);
void barrier_dissemination(const AlgoCtx& c, const Group& g);

// The selector: chooses by collective, message bytes and rank count unless `forced` is not Auto.
// Throws Error(InvalidArgument) when a forced algorithm does not implement the collective.
Algo select_algo(Coll coll, size_t bytes, int nranks, int nhosts, Algo forced);

}  // namespace rfab::coll
