// Copies between SGE lists and packets. Every SGE is looked up again at use: an MR deregistered after the
// WR was posted fails the copy instead of touching freed memory.
#include <algorithm>
#include <cstring>

#include "qp_impl.hpp"

namespace rfab::rc {

const uint8_t* QueuePair::Impl::sge_contiguous(const Sge* sges, uint32_t n, uint32_t offset, uint32_t len) const {
  for (uint32_t i = 0; i < n; ++i) {
    if (offset < sges[i].length || (len == 0 && offset == sges[i].length)) {
      if (sges[i].length - offset < len) return nullptr;
      const MemoryRegion* mr = pd->find(sges[i].lkey);
      if (mr == nullptr || !mr->contains(sges[i].addr, sges[i].length)) return nullptr;
      return mr->at(sges[i].addr + offset);
    }
    offset -= sges[i].length;
  }
  return nullptr;
}

bool QueuePair::Impl::sge_gather(const Sge* sges, uint32_t n, uint32_t offset, uint8_t* out, uint32_t len) const {
  for (uint32_t i = 0; i < n && len > 0; ++i) {
    if (offset >= sges[i].length) {
      offset -= sges[i].length;
      continue;
    }
    const MemoryRegion* mr = pd->find(sges[i].lkey);
    if (mr == nullptr || !mr->contains(sges[i].addr, sges[i].length)) return false;
    const uint32_t take = std::min(len, sges[i].length - offset);
    std::memcpy(out, mr->at(sges[i].addr + offset), take);
    out += take;
    len -= take;
    offset = 0;
  }
  return len == 0;
}

bool QueuePair::Impl::sge_scatter(const Sge* sges, uint32_t n, uint32_t offset, const uint8_t* in,
                                  uint32_t len) const {
  // Check first so that a failure leaves memory untouched.
  {
    uint32_t off = offset, left = len;
    for (uint32_t i = 0; i < n && left > 0; ++i) {
      if (off >= sges[i].length) {
        off -= sges[i].length;
        continue;
      }
      const MemoryRegion* mr = pd->find(sges[i].lkey);
      if (mr == nullptr || !mr->contains(sges[i].addr, sges[i].length) || !(mr->access() & kLocalWrite))
        return false;
      left -= std::min(left, sges[i].length - off);
      off = 0;
    }
    if (left != 0) return false;
  }
  for (uint32_t i = 0; i < n && len > 0; ++i) {
    if (offset >= sges[i].length) {
      offset -= sges[i].length;
      continue;
    }
    const MemoryRegion* mr = pd->find(sges[i].lkey);
    const uint32_t take = std::min(len, sges[i].length - offset);
    std::memcpy(mr->at(sges[i].addr + offset), in, take);
    in += take;
    len -= take;
    offset = 0;
  }
  return true;
}

}  // namespace rfab::rc
