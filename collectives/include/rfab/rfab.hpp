// Thin C++ wrapper over the C API (rfab.h): RAII communicator, typed calls, exceptions carrying the
// rfabResult_t and rfabGetLastError's text.
#pragma once
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "rfab/rfab.h"

namespace rfab {

class CommError : public std::runtime_error {
 public:
  CommError(rfabResult_t code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  rfabResult_t code() const { return code_; }

 private:
  rfabResult_t code_;
};

template <class T>
constexpr rfabDataType_t datatype_of() {
  if constexpr (std::is_same_v<T, int8_t>) return rfabInt8;
  else if constexpr (std::is_same_v<T, uint8_t>) return rfabUint8;
  else if constexpr (std::is_same_v<T, int32_t>) return rfabInt32;
  else if constexpr (std::is_same_v<T, uint32_t>) return rfabUint32;
  else if constexpr (std::is_same_v<T, int64_t>) return rfabInt64;
  else if constexpr (std::is_same_v<T, uint64_t>) return rfabUint64;
  else if constexpr (std::is_same_v<T, float>) return rfabFloat32;
  else if constexpr (std::is_same_v<T, double>) return rfabFloat64;
  else static_assert(sizeof(T) == 0, "no rfab datatype for this C++ type (use the raw API for fp16/bf16)");
}

class Comm {
 public:
  // Under a launcher (torchrun, Slurm, OpenMPI, rfab run) or alone (one rank).
  static Comm from_env() {
    rfabComm_t c = nullptr;
    check(rfabCommInitFromEnv(&c), nullptr);
    return Comm(c);
  }
  Comm(int nranks, const rfabUniqueId& id, int rank) { check(rfabCommInitRank(&c_, nranks, id, rank), nullptr); }
  ~Comm() {
    if (c_ != nullptr) rfabCommDestroy(c_);
  }
  Comm(Comm&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  Comm& operator=(Comm&& o) noexcept {
    if (this != &o) {
      if (c_ != nullptr) rfabCommDestroy(c_);
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  static rfabUniqueId unique_id() {
    rfabUniqueId id;
    check(rfabGetUniqueId(&id), nullptr);
    return id;
  }

  int rank() const {
    int r = 0;
    check(rfabCommUserRank(c_, &r), c_);
    return r;
  }
  int size() const {
    int n = 0;
    check(rfabCommCount(c_, &n), c_);
    return n;
  }
  rfabComm_t get() const { return c_; }

  template <class T>
  void all_reduce(std::span<const T> send, std::span<T> recv, rfabRedOp_t op = rfabSum) {
    need(send.size() == recv.size(), "all_reduce: send and recv sizes differ");
    check(rfabAllReduce(send.data(), recv.data(), send.size(), datatype_of<T>(), op, c_), c_);
  }
  template <class T>
  void all_reduce(std::span<T> inout, rfabRedOp_t op = rfabSum) {
    check(rfabAllReduce(inout.data(), inout.data(), inout.size(), datatype_of<T>(), op, c_), c_);
  }
  template <class T>
  void broadcast(std::span<T> buf, int root) {
    check(rfabBroadcast(buf.data(), buf.data(), buf.size(), datatype_of<T>(), root, c_), c_);
  }
  template <class T>
  void all_gather(std::span<const T> send, std::span<T> recv) {
    need(recv.size() == send.size() * static_cast<size_t>(size()), "all_gather: recv must be size() * send");
    check(rfabAllGather(send.data(), recv.data(), send.size(), datatype_of<T>(), c_), c_);
  }
  void barrier() { check(rfabBarrier(c_), c_); }
  void abort() {
    if (c_ != nullptr) rfabCommAbort(std::exchange(c_, nullptr));
  }

 private:
  explicit Comm(rfabComm_t c) : c_(c) {}
  static void need(bool ok, const char* msg) {
    if (!ok) throw CommError(rfabInvalidArgument, msg);
  }
  static void check(rfabResult_t r, rfabComm_t c) {
    if (r != rfabSuccess) throw CommError(r, std::string(rfabGetErrorString(r)) + ": " + rfabGetLastError(c));
  }
  rfabComm_t c_ = nullptr;
};

}  // namespace rfab
