// Protection domain and memory regions. An MR registers user memory [addr, addr+length) with access flags;
// its key (lkey == rkey, as in rxe) names it in SGEs (lkey) and in RETH/AtomicETH (rkey). Registration
// allocates (setup path); lookups on the hot path are an index plus a key compare.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "rfab/rc/types.hpp"

namespace rfab::rc {

class MemoryRegion {
 public:
  uint8_t* addr() const { return addr_; }
  size_t length() const { return length_; }
  uint64_t iova() const { return iova_; }  // the virtual address peers use (== addr, as ibv_reg_mr)
  uint32_t access() const { return access_; }
  uint32_t lkey() const { return key_; }
  uint32_t rkey() const { return key_; }

  // Is [va, va+len) inside the region? (len 0 is inside when va is within [iova, iova+length]).
  bool contains(uint64_t va, uint64_t len) const {
    return va >= iova_ && len <= length_ && va - iova_ <= length_ - len;
  }
  // Host pointer for a virtual address the caller checked with contains().
  uint8_t* at(uint64_t va) const { return addr_ + (va - iova_); }

 private:
  friend class ProtectionDomain;
  uint8_t* addr_ = nullptr;
  size_t length_ = 0;
  uint64_t iova_ = 0;
  uint32_t access_ = 0;
  uint32_t key_ = 0;
  bool live_ = false;
};

class ProtectionDomain {
 public:
  ProtectionDomain();
  ~ProtectionDomain();
  ProtectionDomain(const ProtectionDomain&) = delete;
  ProtectionDomain& operator=(const ProtectionDomain&) = delete;

  // ibv_reg_mr. Throws std::invalid_argument naming the problem (null addr with length > 0, unknown access
  // bits, REMOTE_WRITE/REMOTE_ATOMIC without LOCAL_WRITE as IBTA requires). The MR lives until dereg_mr or
  // the PD's destruction.
  MemoryRegion* reg_mr(void* addr, size_t length, uint32_t access);
  // ibv_dereg_mr. The key is invalidated: later packets naming it get a remote access error.
  Status dereg_mr(MemoryRegion* mr);

  // Hot-path lookup: the live MR with this key, or nullptr.
  const MemoryRegion* find(uint32_t key) const {
    const uint32_t idx = key >> 8;
    if (idx >= slots_.size()) return nullptr;
    const MemoryRegion* mr = slots_[idx].get();
    return (mr != nullptr && mr->live_ && mr->key_ == key) ? mr : nullptr;
  }

 private:
  std::vector<std::unique_ptr<MemoryRegion>> slots_;  // index = key >> 8; low 8 bits are a generation
  std::vector<uint32_t> free_;
};

}  // namespace rfab::rc
