// Allgather and reduce-scatter (ring), broadcast and reduce (pipelined binary tree or chain), barrier.
#include <cstring>

#include "rfab/collectives/algorithms.hpp"

namespace rfab::coll {

namespace {
const std::byte* cb(const void* p) { return static_cast<const std::byte*>(p); }
std::byte* mb(void* p) { return static_cast<std::byte*>(p); }
int vrank(const Group& g, int root) { return (g.me - root + g.size()) % g.size(); }
}  // namespace

void allgather_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  std::byte* R = mb(recv);
  auto at = [&](int i) { return R + static_cast<size_t>(((i % p) + p) % p) * bytes; };
  if (bytes > 0 && send != at(g.me)) std::memcpy(at(g.me), send, bytes);
  if (p == 1 || bytes == 0) return;
  Exchange x(*c.env, c.what, c.elem);
  int last = -1;
  for (int t = 0; t < p - 1; ++t) {
    x.send(g.at(g.me + 1), at(g.me - t), bytes, last);
    last = x.recv(g.at(g.me - 1), at(g.me - t - 1), bytes);
  }
  x.run();
}

void reducescatter_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  const std::byte* S = cb(send);
  auto blk = [&](int i) { return static_cast<size_t>(((i % p) + p) % p) * bytes; };
  if (bytes == 0) return;
  if (p == 1) {
    if (recv != send) std::memcpy(recv, send, bytes);
    return;
  }
  // Partial sums of blocks that are not ours travel through a scratch copy (send is read-only).
  std::byte* T = c.scratch(bytes * static_cast<size_t>(p), 0);
  Exchange x(*c.env, c.what, c.elem, c.fn);
  int last = -1;
  for (int s = 0; s < p - 1; ++s) {
    size_t sb = blk(g.me - s - 1), rb = blk(g.me - s - 2);
    x.send(g.at(g.me + 1), (s == 0 ? S : T) + sb, bytes, last);
    std::byte* dst = s == p - 2 ? mb(recv) : T + rb;
    last = x.recv_reduce(g.at(g.me - 1), S + rb, dst, bytes);
  }
  x.run();
}

void broadcast_tree(const AlgoCtx& c, const Group& g, int root, void* buf, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (p == 1 || bytes == 0) return;
  int v = vrank(g, root);
  Exchange x(*c.env, c.what, c.elem);
  int got = v == 0 ? -1 : x.recv(g.at(root + (v - 1) / 2), buf, bytes);
  for (int k = 2 * v + 1; k <= 2 * v + 2 && k < p; ++k) x.send(g.at(root + k), buf, bytes, got);
  x.run();
}

void broadcast_chain(const AlgoCtx& c, const Group& g, int root, void* buf, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (p == 1 || bytes == 0) return;
  int v = vrank(g, root);
  Exchange x(*c.env, c.what, c.elem);
  int got = v == 0 ? -1 : x.recv(g.at(root + v - 1), buf, bytes);
  if (v + 1 < p) x.send(g.at(root + v + 1), buf, bytes, got);
  x.run();
}

void reduce_tree(const AlgoCtx& c, const Group& g, int root, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (bytes == 0) return;
  int v = vrank(g, root);
  if (p == 1) {
    if (recv != send) std::memcpy(recv, send, bytes);
    return;
  }
  // Non-roots accumulate in scratch: their recv buffer is not theirs to write.
  std::byte* acc = v == 0 ? mb(recv) : nullptr;
  Exchange x(*c.env, c.what, c.elem, c.fn);
  int last = -1;
  for (int k = 2 * v + 1; k <= 2 * v + 2 && k < p; ++k) {
    if (acc == nullptr) acc = c.scratch(bytes, 1);
    last = x.recv_reduce(g.at(root + k), last < 0 ? cb(send) : acc, acc, bytes, last);
  }
  if (v != 0) x.send(g.at(root + (v - 1) / 2), last < 0 ? cb(send) : acc, bytes, last);
  if (v == 0 && last < 0 && recv != send) std::memcpy(recv, send, bytes);
  x.run();
}

void reduce_chain(const AlgoCtx& c, const Group& g, int root, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t bytes = count * c.elem;
  if (bytes == 0) return;
  int v = vrank(g, root);
  if (p == 1) {
    if (recv != send) std::memcpy(recv, send, bytes);
    return;
  }
  // v = p-1 starts; each rank adds its contribution and passes towards the root (v = 0).
  Exchange x(*c.env, c.what, c.elem, c.fn);
  if (v == p - 1) {
    x.send(g.at(root + v - 1), send, bytes);
  } else {
    std::byte* acc = v == 0 ? mb(recv) : c.scratch(bytes, 1);
    int r = x.recv_reduce(g.at(root + v + 1), send, acc, bytes);
    if (v != 0) x.send(g.at(root + v - 1), acc, bytes, r);
  }
  x.run();
}

void barrier_dissemination(const AlgoCtx& c, const Group& g) {
  const int p = g.size();
  if (p == 1) return;
  static const std::byte token{1};
  std::byte* sink = c.scratch(64, 2);
  Exchange x(*c.env, c.what);
  int last = -1;
  // Round k tells rank +2^k we arrived, only after hearing from rank -2^(k-1) (the gate).
  for (int k = 1; k < p; k <<= 1) {
    x.send(g.at(g.me + k), &token, 1, last);
    last = x.recv(g.at(g.me - k), sink, 1);
  }
  x.run();
}

}  // namespace rfab::coll
