// Runs one collective on every rank (inside a forked child) and checks it against the serial reference.
#pragma once
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "model.hpp"
#include "rfab/rfab.h"

namespace rfab::coll::test {

// A unique id for a second communicator over the same store: another key prefix.
inline rfabUniqueId derive_id(const rfabUniqueId& id, const std::string& tag) {
  rfabUniqueId out = id;
  char nonce[64] = {}, host[128] = {};
  unsigned port = 0;
  std::sscanf(id.internal, "rfab1 %63s %u %127s", nonce, &port, host);
  std::snprintf(out.internal, sizeof out.internal, "rfab1 %s_%s %u %s", nonce, tag.c_str(), port, host);
  return out;
}

struct Case {
  Coll coll;
  DataType t;
  RedOp op;
  bool in_place;
  size_t count;  // per-rank count for allgather/reducescatter/alltoall, total for the others
  int salt;
};

inline std::string case_name(const Case& c) {
  return std::string(coll_name(c.coll)) + " " + std::string(dtype_name(c.t)) + " " + std::string(op_name(c.op)) +
         (c.in_place ? " in-place" : " out-of-place") + " count=" + std::to_string(c.count);
}

// Buffer with a guard zone after it, to catch writes past the end.
struct GuardedBuf {
  std::vector<unsigned char> mem;
  size_t bytes;
  static constexpr size_t kGuard = 64;
  explicit GuardedBuf(size_t b) : mem(b + kGuard, 0xA5), bytes(b) {}
  void* data() { return mem.data(); }
  bool guard_ok() const {
    for (size_t i = bytes; i < mem.size(); ++i)
      if (mem[i] != 0xA5) return false;
    return true;
  }
};

// Returns "" on success, else what went wrong.
inline std::string run_case(rfabComm_t comm, int rank, int n, const Case& c) {
  Model m = model(c.t);
  const size_t e = m.esz;
  const size_t N = static_cast<size_t>(n);
  auto dt = static_cast<rfabDataType_t>(c.t);
  auto op = static_cast<rfabRedOp_t>(c.op);
  rfabResult_t rc = rfabSuccess;
  std::string bad;
  auto check = [&](const void* got, const void* want, size_t cnt) {
    std::string why = m.compare(got, want, cnt);
    if (!why.empty() && bad.empty()) bad = why;
  };
  int root = c.salt % n;
  switch (c.coll) {
    case Coll::AllReduce: {
      GuardedBuf send(c.count * e), recv(c.count * e);
      m.fill(send.data(), 0, c.count, rank, c.salt, c.op);
      void* out = c.in_place ? send.data() : recv.data();
      rc = rfabAllReduce(send.data(), out, c.count, dt, op, comm);
      std::vector<unsigned char> want(c.count * e + 1);
      m.expect(want.data(), 0, c.count, n, c.salt, c.op);
      if (rc == rfabSuccess) check(out, want.data(), c.count);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::Reduce: {
      GuardedBuf send(c.count * e), recv(c.count * e);
      m.fill(send.data(), 0, c.count, rank, c.salt, c.op);
      void* out = c.in_place ? send.data() : recv.data();
      rc = rfabReduce(send.data(), out, c.count, dt, op, root, comm);
      std::vector<unsigned char> want(c.count * e + 1);
      m.expect(want.data(), 0, c.count, n, c.salt, c.op);
      if (rc == rfabSuccess && rank == root) check(out, want.data(), c.count);
      if (rc == rfabSuccess && rank != root && !c.in_place) {
        std::vector<unsigned char> untouched(c.count * e, 0xA5);
        if (c.count > 0 && std::memcmp(recv.data(), untouched.data(), c.count * e) != 0)
          bad = "non-root recvbuff was written";
      }
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::ReduceScatter: {
      GuardedBuf send(c.count * N * e), recv(c.count * e);
      m.fill(send.data(), 0, c.count * N, rank, c.salt, c.op);
      unsigned char* sb = static_cast<unsigned char*>(send.data());
      void* out = c.in_place ? sb + static_cast<size_t>(rank) * c.count * e : recv.data();
      rc = rfabReduceScatter(send.data(), out, c.count, dt, op, comm);
      std::vector<unsigned char> want(c.count * e + 1);
      m.expect(want.data(), static_cast<size_t>(rank) * c.count, c.count, n, c.salt, c.op);
      if (rc == rfabSuccess) check(out, want.data(), c.count);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::Broadcast: {
      GuardedBuf send(c.count * e), recv(c.count * e);
      if (rank == root) m.fill(send.data(), 0, c.count, root, c.salt, c.op);
      void* out = c.in_place ? send.data() : recv.data();
      rc = rfabBroadcast(send.data(), out, c.count, dt, root, comm);
      std::vector<unsigned char> want(c.count * e + 1);
      m.fill(want.data(), 0, c.count, root, c.salt, c.op);
      if (rc == rfabSuccess) check(out, want.data(), c.count);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::AllGather: {
      GuardedBuf send(c.count * e), recv(c.count * N * e);
      unsigned char* rb = static_cast<unsigned char*>(recv.data());
      void* in = c.in_place ? rb + static_cast<size_t>(rank) * c.count * e : send.data();
      m.fill(in, static_cast<size_t>(rank) * c.count, c.count, rank, c.salt, c.op);
      rc = rfabAllGather(in, recv.data(), c.count, dt, comm);
      std::vector<unsigned char> want(c.count * N * e + 1);
      for (int r = 0; r < n; ++r)
        m.fill(want.data() + static_cast<size_t>(r) * c.count * e, static_cast<size_t>(r) * c.count, c.count, r,
               c.salt, c.op);
      if (rc == rfabSuccess) check(recv.data(), want.data(), c.count * N);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::AllToAll: {
      GuardedBuf send(c.count * N * e), recv(c.count * N * e);
      // Block j of rank r's send buffer goes to rank j: fill(first = j*count, rank = r).
      for (int j = 0; j < n; ++j)
        m.fill(static_cast<unsigned char*>(send.data()) + static_cast<size_t>(j) * c.count * e,
               static_cast<size_t>(j) * c.count, c.count, rank, c.salt, c.op);
      void* out = c.in_place ? send.data() : recv.data();
      rc = rfabAllToAll(send.data(), out, c.count, dt, comm);
      std::vector<unsigned char> want(c.count * N * e + 1);
      for (int j = 0; j < n; ++j)
        m.fill(want.data() + static_cast<size_t>(j) * c.count * e, static_cast<size_t>(rank) * c.count, c.count, j,
               c.salt, c.op);
      if (rc == rfabSuccess) check(out, want.data(), c.count * N);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::SendRecv: {
      // Ring shift inside a group: send to rank+1, receive from rank-1 (to self when n == 1).
      GuardedBuf send(c.count * e), recv(c.count * e);
      m.fill(send.data(), 0, c.count, rank, c.salt, c.op);
      int to = (rank + 1) % n, from = (rank - 1 + n) % n;
      // In place (as nccl-tests runs it): one buffer sends our data and receives the neighbour's.
      void* out = c.in_place ? send.data() : recv.data();
      rfabGroupStart();
      rfabSend(send.data(), c.count, dt, to, comm);
      rfabRecv(out, c.count, dt, from, comm);
      rc = rfabGroupEnd();
      std::vector<unsigned char> want(c.count * e + 1);
      m.fill(want.data(), 0, c.count, from, c.salt, c.op);
      if (rc == rfabSuccess) check(out, want.data(), c.count);
      if (!send.guard_ok() || !recv.guard_ok()) bad = "wrote past the end of a buffer";
      break;
    }
    case Coll::Barrier: rc = rfabBarrier(comm); break;
  }
  if (rc != rfabSuccess)
    return std::string("returned ") + rfabGetErrorString(rc) + ": " + rfabGetLastError(comm);
  return bad;
}

}  // namespace rfab::coll::test
