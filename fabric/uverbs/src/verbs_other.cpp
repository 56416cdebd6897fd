// The rest of libibverbs' entry points that reach a provider. Each either does what a device without the
// feature does (no async events, fork safety needs nothing) or fails with EOPNOTSUPP naming the feature:
// were they left to libibverbs, they would dereference provider tables this device does not have.
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>

#include "provider.hpp"

using namespace rfab::uverbs;

RFAB_VERBS_API int ibv_fork_init(void) { return 0; }  // the engine pins nothing: fork needs no preparation

RFAB_VERBS_API int ibv_get_async_event(ibv_context* ctx, ibv_async_event*) {
  // No asynchronous events are raised: block on the (never signalled) async fd as a quiet device would,
  // or fail with EAGAIN when the application made it non-blocking.
  uint64_t v;
  (void)!::read(ctx->async_fd, &v, sizeof v);
  return -1;
}

RFAB_VERBS_API void ibv_ack_async_event(ibv_async_event*) {}

RFAB_VERBS_API ibv_srq* ibv_create_srq(ibv_pd*, ibv_srq_init_attr*) {
  fail(EOPNOTSUPP, "create_srq: shared receive queues are not supported");
  return nullptr;
}
RFAB_VERBS_API int ibv_modify_srq(ibv_srq*, ibv_srq_attr*, int) { return EOPNOTSUPP; }
RFAB_VERBS_API int ibv_query_srq(ibv_srq*, ibv_srq_attr*) { return EOPNOTSUPP; }
RFAB_VERBS_API int ibv_destroy_srq(ibv_srq*) { return EOPNOTSUPP; }

RFAB_VERBS_API ibv_ah* ibv_create_ah(ibv_pd*, ibv_ah_attr*) {
  fail(EOPNOTSUPP, "create_ah: address handles (UD) are not supported; the device has RC QPs only");
  return nullptr;
}
RFAB_VERBS_API int ibv_destroy_ah(ibv_ah*) { return EOPNOTSUPP; }
RFAB_VERBS_API ibv_ah* ibv_create_ah_from_wc(ibv_pd*, ibv_wc*, ibv_grh*, uint8_t) {
  fail(EOPNOTSUPP, "create_ah_from_wc: address handles (UD) are not supported");
  return nullptr;
}
RFAB_VERBS_API int ibv_init_ah_from_wc(ibv_context*, uint8_t, ibv_wc*, ibv_grh*, ibv_ah_attr*) {
  errno = EOPNOTSUPP;
  return -1;
}

RFAB_VERBS_API int ibv_attach_mcast(ibv_qp*, const ibv_gid*, uint16_t) { return EOPNOTSUPP; }
RFAB_VERBS_API int ibv_detach_mcast(ibv_qp*, const ibv_gid*, uint16_t) { return EOPNOTSUPP; }

RFAB_VERBS_API ibv_qp_ex* ibv_qp_to_qp_ex(ibv_qp*) {
  errno = EOPNOTSUPP;  // the extended (ibv_wr_*) post API is not provided; ibv_post_send is
  return nullptr;
}

RFAB_VERBS_API int ibv_query_ece(ibv_qp*, ibv_ece*) { return EOPNOTSUPP; }
RFAB_VERBS_API int ibv_set_ece(ibv_qp*, ibv_ece*) { return EOPNOTSUPP; }

RFAB_VERBS_API int ibv_query_qp_data_in_order(ibv_qp*, ibv_wr_opcode, uint32_t) {
  return 0;  // the engine places data in order of PSN, but promises nothing about visibility order
}

RFAB_VERBS_API ibv_context* ibv_import_device(int) {
  errno = EOPNOTSUPP;
  return nullptr;
}
RFAB_VERBS_API ibv_pd* ibv_import_pd(ibv_context*, uint32_t) {
  errno = EOPNOTSUPP;
  return nullptr;
}
RFAB_VERBS_API ibv_mr* ibv_import_mr(ibv_pd*, uint32_t) {
  errno = EOPNOTSUPP;
  return nullptr;
}
RFAB_VERBS_API void ibv_unimport_pd(ibv_pd*) {}
RFAB_VERBS_API void ibv_unimport_mr(ibv_mr*) {}
