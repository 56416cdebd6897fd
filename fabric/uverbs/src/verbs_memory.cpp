// Protection domains and memory regions: an rc::ProtectionDomain per PD; an MR's keys are the engine's
// (lkey == rkey, as rxe), and the engine reads and writes the registered memory in place.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "provider.hpp"

using namespace rfab;
using namespace rfab::uverbs;

namespace {

uint32_t next_handle() {
  static std::atomic<uint32_t> n{0};
  return ++n;
}

ibv_mr* reg(ibv_pd* ibv_pd, void* addr, size_t length, int access) {
  if (ibv_pd == nullptr) {
    errno = EINVAL;
    return nullptr;
  }
  Pd* pd = from<Pd>(ibv_pd);
  uint32_t engine_access = 0;
  if (Failure f = mr_access(access, engine_access); f.err != 0) {
    fail(f.err, f.why);
    return nullptr;
  }
  auto* mr = new Mr();
  {
    AppLock l(*pd->ctx->rt);
    try {
      mr->mr = pd->pd.reg_mr(addr, length, engine_access);
    } catch (const std::exception& e) {
      delete mr;
      fail(EINVAL, std::string("reg_mr: ") + e.what());
      return nullptr;
    }
    ++pd->users;
  }
  mr->pd = pd;
  std::memset(&mr->ibv, 0, sizeof mr->ibv);
  mr->ibv.context = ibv_pd->context;
  mr->ibv.pd = ibv_pd;
  mr->ibv.addr = addr;
  mr->ibv.length = length;
  mr->ibv.handle = next_handle();
  mr->ibv.lkey = mr->mr->lkey();
  mr->ibv.rkey = mr->mr->rkey();
  return &mr->ibv;
}

}  // namespace

RFAB_VERBS_API ibv_pd* ibv_alloc_pd(ibv_context* ctx) {
  Context* c = context_of(ctx);
  auto* pd = new Pd();
  std::memset(&pd->ibv, 0, sizeof pd->ibv);
  pd->ibv.context = ctx;
  pd->ibv.handle = next_handle();
  pd->ctx = c;
  AppLock l(*c->rt);
  ++c->objects;
  return &pd->ibv;
}

RFAB_VERBS_API int ibv_dealloc_pd(ibv_pd* ibv_pd) {
  Pd* pd = from<Pd>(ibv_pd);
  Context* c = pd->ctx;
  {
    AppLock l(*c->rt);
    if (pd->users > 0) return fail(EBUSY, "dealloc_pd: the PD still has memory regions or QPs");
    --c->objects;
  }
  delete pd;
  return 0;
}

#undef ibv_reg_mr  // <infiniband/verbs.h> maps these names onto inline wrappers
#undef ibv_reg_mr_iova
RFAB_VERBS_API ibv_mr* ibv_reg_mr(ibv_pd* pd, void* addr, size_t length, int access) {
  return reg(pd, addr, length, access);
}

// The engine names memory by its virtual address (rc::MemoryRegion::iova() == addr), so an IOVA other
// than the address is refused rather than silently ignored.
RFAB_VERBS_API ibv_mr* ibv_reg_mr_iova(ibv_pd* pd, void* addr, size_t length, uint64_t iova, int access) {
  if (iova != reinterpret_cast<uintptr_t>(addr)) {
    fail(EOPNOTSUPP, "reg_mr_iova: an IOVA other than the buffer's address is not supported");
    return nullptr;
  }
  return reg(pd, addr, length, access);
}

RFAB_VERBS_API ibv_mr* ibv_reg_mr_iova2(ibv_pd* pd, void* addr, size_t length, uint64_t iova, unsigned int access) {
  return ibv_reg_mr_iova(pd, addr, length, iova, static_cast<int>(access));
}

RFAB_VERBS_API int ibv_dereg_mr(ibv_mr* ibv_mr) {
  Mr* mr = from<Mr>(ibv_mr);
  {
    AppLock l(*mr->pd->ctx->rt);
    const rc::Status st = mr->pd->pd.dereg_mr(mr->mr);
    if (!st.ok()) return fail(errno_for(st.code), std::string("dereg_mr: ") + st.what);
    --mr->pd->users;
  }
  delete mr;
  return 0;
}

RFAB_VERBS_API ibv_mr* ibv_reg_dmabuf_mr(ibv_pd*, uint64_t, size_t, uint64_t, int, int) {
  fail(EOPNOTSUPP, "reg_dmabuf_mr: device memory (dma-buf) is not supported");
  return nullptr;
}

RFAB_VERBS_API int ibv_rereg_mr(ibv_mr*, int, ibv_pd*, void*, size_t, int) {
  fail(EOPNOTSUPP, "rereg_mr: not supported (deregister and register again)");
  return IBV_REREG_MR_ERR_INPUT;
}
