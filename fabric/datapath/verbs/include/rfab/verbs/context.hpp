// An opened libibverbs device with one protection domain, and memory registered on it. The RC queue pairs
// on top are the endpoint layer's verbs device (fabric/endpoint, verbs_device.cpp).
#pragma once
#include <cstddef>
#include <cstdint>

#include "rfab/rc/types.hpp"
#include "rfab/verbs/device.hpp"

struct ibv_context;
struct ibv_pd;
struct ibv_mr;

namespace rfab::verbs {

// ibv_open_device + ibv_alloc_pd on the endpoint (device, port, GID index) it was opened for.
class Context {
 public:
  explicit Context(const Endpoint& ep);  // throws VerbsError
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  const Endpoint& endpoint() const { return ep_; }
  ibv_context* context() const { return ctx_; }
  ibv_pd* pd() const { return pd_; }

 private:
  Endpoint ep_;
  ibv_context* ctx_ = nullptr;
  ibv_pd* pd_ = nullptr;
};

// A registered memory region (ibv_reg_mr); access flags are rc::Access values (== ibv_access_flags).
class MemoryRegion {
 public:
  MemoryRegion(Context& ctx, void* addr, size_t length, uint32_t access);  // throws VerbsError
  ~MemoryRegion();
  MemoryRegion(const MemoryRegion&) = delete;
  MemoryRegion& operator=(const MemoryRegion&) = delete;
  uint8_t* addr() const { return addr_; }
  size_t length() const { return length_; }
  uint32_t lkey() const;
  uint32_t rkey() const;

 private:
  ibv_mr* mr_ = nullptr;
  uint8_t* addr_;
  size_t length_;
};

}  // namespace rfab::verbs
