// Allreduce: pipelined ring (bandwidth), Rabenseifner recursive halving-doubling (medium), recursive
// doubling (latency), double binary tree, and hierarchical (intra-host reduce, inter-host allreduce among
// host leaders, intra-host broadcast).
#include <cstring>

#include "rfab/collectives/algorithms.hpp"

namespace rfab::coll {

namespace {

const std::byte* cb(const void* p) { return static_cast<const std::byte*>(p); }
std::byte* mb(void* p) { return static_cast<std::byte*>(p); }

void copy_if_needed(const void* send, void* recv, size_t bytes) {
  if (send != recv && bytes > 0) std::memcpy(recv, send, bytes);
}
// The same, skipped when only the schedule is recorded (its buffers hold no data).
void copy_if_needed(const AlgoCtx& c, const void* send, void* recv, size_t bytes) {
  if (!c.records()) copy_if_needed(send, recv, bytes);
}

// Non-power-of-two folding shared by rd and rhd: the first 2*extra ranks pair up; even ones hand their
// vector to their odd neighbour and sit out the core, then get the result back.
struct Fold {
  int p, p2, extra, me, newidx;  // newidx < 0: sits out
  explicit Fold(const Group& g) : p(g.size()), me(g.me) {
    p2 = 1;
    while (p2 * 2 <= p) p2 *= 2;
    extra = p - p2;
    if (me < 2 * extra) {
      newidx = (me % 2 == 1) ? me / 2 : -1;
    } else {
      newidx = me - extra;
    }
  }
  int real(int idx) const { return idx < extra ? idx * 2 + 1 : idx + extra; }
};

void fold_in(const AlgoCtx& c, const Group& g, const Fold& f, std::byte* R, size_t bytes) {
  if (f.me >= 2 * f.extra) return;
  Exchange x(*c.env, c.what, c.elem, c.fn);
  if (f.newidx < 0) {
    x.send(g.at(f.me + 1), R, bytes);
  } else {
    x.recv_reduce(g.at(f.me - 1), R, R, bytes);
  }
  x.run();
}

void fold_out(const AlgoCtx& c, const Group& g, const Fold& f, std::byte* R, size_t bytes) {
  if (f.me >= 2 * f.extra) return;
  Exchange x(*c.env, c.what, c.elem, c.fn);
  if (f.newidx < 0) {
    x.recv(g.at(f.me + 1), R, bytes);
  } else {
    x.send(g.at(f.me - 1), R, bytes);
  }
  x.run();
}

}  // namespace

void allreduce_ring(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t e = c.elem;
  if (p == 1 || count == 0) return copy_if_needed(c, send, recv, count * e);
  const std::byte* S = cb(send);
  std::byte* R = mb(recv);
  Blocks b{count, static_cast<size_t>(p)};
  auto blk = [&](int i) { return static_cast<size_t>(((i % p) + p) % p); };
  const int next = g.at(g.me + 1), prev = g.at(g.me - 1);
  Exchange x(*c.env, c.what, e, c.fn);
  // Every block the allgather brings back is the sum of partial sums that went round the ring through us.
  x.receives_follow_earlier_ops();
  int last = -1;
  // Reduce-scatter: at step s forward block me-s (our partial sum of it), fold in block me-s-1.
  for (int s = 0; s < p - 1; ++s) {
    size_t sb = blk(g.me - s), rb = blk(g.me - s - 1);
    x.send(next, (s == 0 ? S : R) + b.off(sb) * e, b.len(sb) * e, s == 0 ? -1 : last);
    last = x.recv_reduce(prev, S + b.off(rb) * e, R + b.off(rb) * e, b.len(rb) * e);
  }
  // Allgather: block me+1 is complete here; pass complete blocks around, forwarding as they arrive.
  for (int t = 0; t < p - 1; ++t) {
    size_t sb = blk(g.me + 1 - t), rb = blk(g.me - t);
    x.send(next, R + b.off(sb) * e, b.len(sb) * e, last);
    last = x.recv(prev, R + b.off(rb) * e, b.len(rb) * e);
  }
  x.run();
}

void allreduce_rd(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const size_t bytes = count * c.elem;
  copy_if_needed(c, send, recv, bytes);
  if (g.size() == 1 || count == 0) return;
  std::byte* R = mb(recv);
  Fold f(g);
  fold_in(c, g, f, R, bytes);
  if (f.newidx >= 0) {
    for (int mask = 1; mask < f.p2; mask <<= 1) {
      int partner = g.at(f.real(f.newidx ^ mask));
      Exchange x(*c.env, c.what, c.elem, c.fn);
      int s = x.send(partner, R, bytes);
      // Reduce into R only where it has already been sent (the gate), so the send reads unreduced data.
      x.recv_reduce(partner, R, R, bytes, s);
      x.run();
    }
  }
  fold_out(c, g, f, R, bytes);
}

void allreduce_rhd(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const size_t e = c.elem;
  copy_if_needed(c, send, recv, count * e);
  if (g.size() == 1 || count == 0) return;
  std::byte* R = mb(recv);
  Fold f(g);
  fold_in(c, g, f, R, count * e);
  if (f.newidx >= 0) {
    Blocks b{count, static_cast<size_t>(f.p2)};
    auto range = [&](int lo, int hi) {  // bytes [off(lo), off(hi))
      size_t o = b.off(static_cast<size_t>(lo)) * e;
      size_t end = hi >= f.p2 ? count * e : b.off(static_cast<size_t>(hi)) * e;
      return std::pair<size_t, size_t>{o, end - o};
    };
    int lo = 0, hi = f.p2;
    // Recursive halving (reduce-scatter): keep the half that contains our block, send the other.
    for (int mask = f.p2 >> 1; mask >= 1; mask >>= 1) {
      int partner = g.at(f.real(f.newidx ^ mask));
      int mid = lo + (hi - lo) / 2;
      bool lower = (f.newidx & mask) == 0;
      auto keep = lower ? range(lo, mid) : range(mid, hi);
      auto give = lower ? range(mid, hi) : range(lo, mid);
      Exchange x(*c.env, c.what, e, c.fn);
      x.send(partner, R + give.first, give.second);
      x.recv_reduce(partner, R + keep.first, R + keep.first, keep.second);
      x.run();
      if (lower) {
        hi = mid;
      } else {
        lo = mid;
      }
    }
    // Recursive doubling (allgather): swap windows with the partner, doubling the window each step.
    for (int mask = 1; mask < f.p2; mask <<= 1) {
      int partner = g.at(f.real(f.newidx ^ mask));
      int size = hi - lo;
      bool lower = (f.newidx & mask) == 0;
      int plo = lower ? lo + size : lo - size;
      auto mine = range(lo, hi);
      auto theirs = range(plo, plo + size);
      Exchange x(*c.env, c.what, e, c.fn);
      x.send(partner, R + mine.first, mine.second);
      x.recv(partner, R + theirs.first, theirs.second);
      x.run();
      lo = std::min(lo, plo);
      hi = lo + 2 * size;
    }
  }
  fold_out(c, g, f, R, count * e);
}

void allreduce_tree(const AlgoCtx& c, const Group& g, const void* send, void* recv, size_t count) {
  const int p = g.size();
  const size_t e = c.elem;
  if (p == 1 || count == 0) return copy_if_needed(c, send, recv, count * e);
  const std::byte* S = cb(send);
  std::byte* R = mb(recv);
  Exchange x(*c.env, c.what, e, c.fn);
  // Two binary trees, each carrying half the data. Tree 1 is a heap over group indices, tree 2 the same
  // heap over mirrored indices: the inner nodes of one are leaves of the other, so every rank sends and
  // receives about the same amount.
  size_t half = count / 2;
  for (int t = 0; t < 2; ++t) {
    size_t a = t == 0 ? 0 : half, len = (t == 0 ? half : count - half) * e;
    a *= e;
    if (len == 0) continue;
    auto idx = [&](int v) { return t == 0 ? v : p - 1 - v; };
    int v = idx(g.me);
    int parent = v == 0 ? -1 : g.at(idx((v - 1) / 2));
    int kids[2] = {2 * v + 1 < p ? g.at(idx(2 * v + 1)) : -1, 2 * v + 2 < p ? g.at(idx(2 * v + 2)) : -1};
    int last = -1;
    for (int k : kids) {
      if (k < 0) continue;
      last = x.recv_reduce(k, (last < 0 ? S : R) + a, R + a, len, last);
    }
    int down;
    if (parent >= 0) {
      x.send(parent, (last < 0 ? S : R) + a, len, last);
      // Safe to land the result in R over our partial sums: the parent can only return byte i after it
      // has received our byte i, i.e. after our send of it.
      down = x.recv(parent, R + a, len);
    } else {
      down = last;
    }
    for (int k : kids)
      if (k >= 0) x.send(k, R + a, len, down);
  }
  x.run();
}

void allreduce_hier(const AlgoCtx& c, const std::vector<Group>& hosts, const Group& leaders, int my_host,
                    const void* send, void* recv, size_t count, Algo inter) {
  const Group& local = hosts[static_cast<size_t>(my_host)];
  const size_t bytes = count * c.elem;
  if (count == 0) return;
  bool leader = local.me == 0;
  // 1. Reduce to the host leader (the result lands in recv on the leader only).
  if (local.size() > 1) {
    reduce_tree(c, local, 0, send, recv, count);
  } else {
    copy_if_needed(c, send, recv, bytes);
  }
  // 2. Allreduce among leaders, in place.
  if (leader && leaders.size() > 1) {
    switch (inter) {
      case Algo::Rhd: allreduce_rhd(c, leaders, recv, recv, count); break;
      case Algo::RecursiveDoubling: allreduce_rd(c, leaders, recv, recv, count); break;
      case Algo::Tree: allreduce_tree(c, leaders, recv, recv, count); break;
      default: allreduce_ring(c, leaders, recv, recv, count); break;
    }
  }
  // 3. Broadcast from the leader.
  if (local.size() > 1) broadcast_tree(c, local, 0, recv, count);
}

}  // namespace rfab::coll
