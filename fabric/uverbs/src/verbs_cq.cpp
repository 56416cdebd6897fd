// Completion queues and completion channels. A CQ is an rc::CompletionQueue the engine's QPs complete
// into; ibv_poll_cq (through context->ops) drives the engine one pass and drains it. A completion channel
// is an eventfd (EFD_SEMAPHORE: one read per event) that the runtime writes when an armed CQ holds a
// completion; its fd is pollable and may be made non-blocking, as libibverbs' channel fd.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "provider.hpp"

using namespace rfab;
using namespace rfab::uverbs;

namespace rfab::uverbs {

int op_poll_cq(ibv_cq* ibv_cq, int n, ibv_wc* wc) {
  Cq* cq = from<Cq>(ibv_cq);
  if (n <= 0) return 0;
  AppLock l(*cq->ctx->rt);
  l.progress();
  int got = 0;
  rc::WorkCompletion buf[32];
  while (got < n) {
    const size_t want = std::min<size_t>(32, static_cast<size_t>(n - got));
    const size_t k = cq->cq->poll(std::span<rc::WorkCompletion>(buf, want));
    for (size_t i = 0; i < k; ++i) convert_wc(buf[i], wc[got + static_cast<int>(i)]);
    got += static_cast<int>(k);
    if (k < want) break;
  }
  cq->polled += static_cast<uint64_t>(got);
  return got;
}

// The next completion added to the CQ raises one event. Solicited-only requests are treated as "next
// completion": a superset of events, which IBTA allows.
int op_req_notify_cq(ibv_cq* ibv_cq, int) {
  Cq* cq = from<Cq>(ibv_cq);
  AppLock l(*cq->ctx->rt);
  cq->ctx->rt->arm(*cq);
  return 0;
}

}  // namespace rfab::uverbs

RFAB_VERBS_API ibv_comp_channel* ibv_create_comp_channel(ibv_context* ctx) {
  Context* c = context_of(ctx);
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
  if (fd < 0) return nullptr;
  auto* ch = new Channel();
  std::memset(&ch->ibv, 0, sizeof ch->ibv);
  ch->ibv.context = ctx;
  ch->ibv.fd = fd;
  ch->ctx = c;
  AppLock l(*c->rt);
  ++c->objects;
  return &ch->ibv;
}

RFAB_VERBS_API int ibv_destroy_comp_channel(ibv_comp_channel* ibv_ch) {
  Channel* ch = from<Channel>(ibv_ch);
  Context* c = ch->ctx;
  {
    AppLock l(*c->rt);
    if (ch->cqs > 0) return fail(EBUSY, "destroy_comp_channel: CQs still use the channel");
    --c->objects;
  }
  ::close(ch->ibv.fd);
  delete ch;
  return 0;
}

RFAB_VERBS_API ibv_cq* ibv_create_cq(ibv_context* ctx, int cqe, void* cq_context, ibv_comp_channel* channel,
                                     int comp_vector) {
  Context* c = context_of(ctx);
  if (cqe < 1 || cqe > (1 << 24) - 1) {
    fail(EINVAL, "create_cq: cqe must be 1..2^24-1");
    return nullptr;
  }
  if (comp_vector != 0) {
    fail(EINVAL, "create_cq: comp_vector must be 0 (the device has one completion vector)");
    return nullptr;
  }
  if (channel != nullptr && channel->context != ctx) {
    fail(EINVAL, "create_cq: the completion channel belongs to another context");
    return nullptr;
  }
  auto* cq = new Cq();
  std::memset(&cq->ibv, 0, sizeof cq->ibv);
  cq->cq = std::make_unique<rc::CompletionQueue>(static_cast<size_t>(cqe));
  cq->ctx = c;
  cq->channel = channel == nullptr ? nullptr : from<Channel>(channel);
  cq->ibv.context = ctx;
  cq->ibv.channel = channel;
  cq->ibv.cq_context = cq_context;
  cq->ibv.cqe = cqe;
  pthread_mutex_init(&cq->ibv.mutex, nullptr);
  pthread_cond_init(&cq->ibv.cond, nullptr);
  AppLock l(*c->rt);
  ++c->objects;
  if (cq->channel != nullptr) ++cq->channel->cqs;
  return &cq->ibv;
}

RFAB_VERBS_API int ibv_destroy_cq(ibv_cq* ibv_cq) {
  Cq* cq = from<Cq>(ibv_cq);
  Context* c = cq->ctx;
  {
    AppLock l(*c->rt);
    if (cq->qps > 0) return fail(EBUSY, "destroy_cq: QPs still use the CQ");
    c->rt->forget(*cq);
    if (cq->channel != nullptr) {
      std::lock_guard<std::mutex> g(cq->channel->mu);
      auto& ev = cq->channel->events;
      for (auto it = ev.begin(); it != ev.end();) it = (*it == ibv_cq) ? ev.erase(it) : it + 1;
      --cq->channel->cqs;
    }
    --c->objects;
  }
  pthread_cond_destroy(&cq->ibv.cond);
  pthread_mutex_destroy(&cq->ibv.mutex);
  delete cq;
  return 0;
}

RFAB_VERBS_API int ibv_resize_cq(ibv_cq*, int) { return fail(EOPNOTSUPP, "resize_cq: not supported"); }

RFAB_VERBS_API int ibv_get_cq_event(ibv_comp_channel* ibv_ch, ibv_cq** cq, void** cq_context) {
  Channel* ch = from<Channel>(ibv_ch);
  Runtime& rt = *ch->ctx->rt;
  rt.blocked_begin();  // the progress thread moves the packets while this thread sleeps
  uint64_t v = 0;
  const ssize_t r = ::read(ch->ibv.fd, &v, sizeof v);
  rt.blocked_end();
  if (r != static_cast<ssize_t>(sizeof v)) return -1;  // errno from read (EAGAIN on a non-blocking fd)
  std::lock_guard<std::mutex> g(ch->mu);
  if (ch->events.empty()) {  // its CQ was destroyed after the event was raised
    errno = EAGAIN;
    return -1;
  }
  *cq = ch->events.front();
  ch->events.pop_front();
  *cq_context = (*cq)->cq_context;
  return 0;
}

RFAB_VERBS_API void ibv_ack_cq_events(ibv_cq* ibv_cq, unsigned int nevents) {
  pthread_mutex_lock(&ibv_cq->mutex);
  ibv_cq->comp_events_completed += nevents;
  pthread_cond_signal(&ibv_cq->cond);
  pthread_mutex_unlock(&ibv_cq->mutex);
}
