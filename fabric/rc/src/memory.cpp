#include "rfab/rc/memory.hpp"

#include <stdexcept>

namespace rfab::rc {

ProtectionDomain::ProtectionDomain() = default;
ProtectionDomain::~ProtectionDomain() = default;

MemoryRegion* ProtectionDomain::reg_mr(void* addr, size_t length, uint32_t access) {
  constexpr uint32_t kKnown = kLocalWrite | kRemoteWrite | kRemoteRead | kRemoteAtomic;
  if (access & ~kKnown) throw std::invalid_argument("reg_mr: unknown access flag bits");
  if (addr == nullptr && length > 0) throw std::invalid_argument("reg_mr: null address with non-zero length");
  if ((access & (kRemoteWrite | kRemoteAtomic)) && !(access & kLocalWrite))
    throw std::invalid_argument("reg_mr: REMOTE_WRITE/REMOTE_ATOMIC require LOCAL_WRITE (IBTA 10.6.3.1)");
  if (slots_.size() >= (1u << 24) && free_.empty()) throw std::invalid_argument("reg_mr: too many MRs");
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::make_unique<MemoryRegion>());
  }
  MemoryRegion& mr = *slots_[idx];
  // The low byte is a generation so a stale key of a re-used slot does not match.
  const uint32_t gen = static_cast<uint32_t>((mr.key_ + 1) & 0xFF);
  mr.addr_ = static_cast<uint8_t*>(addr);
  mr.length_ = length;
  mr.iova_ = reinterpret_cast<uintptr_t>(addr);
  mr.access_ = access;
  mr.key_ = (idx << 8) | gen;
  mr.live_ = true;
  return &mr;
}

Status ProtectionDomain::dereg_mr(MemoryRegion* mr) {
  if (mr == nullptr || find(mr->key_) != mr) return {Errc::invalid_argument, "dereg_mr: not a live MR of this PD"};
  mr->live_ = false;
  free_.push_back(mr->key_ >> 8);
  return {};
}

}  // namespace rfab::rc
