// The provider's verbs objects. Each starts with the libibverbs struct the application sees (so a pointer
// to one is a pointer to the other), followed by the engine object behind it. Applications only ever hold
// the libibverbs part; the inline verbs in <infiniband/verbs.h> (ibv_post_send, ibv_poll_cq, ...) call
// through context->ops, which every Context fills.
#pragma once
#include <infiniband/verbs.h>

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "netdev.hpp"
#include "rfab/rc/cq.hpp"
#include "rfab/rc/memory.hpp"
#include "rfab/rc/qp.hpp"
#include "runtime.hpp"

namespace rfab::uverbs {

// One device per chosen netdev; lives for the process (ibv_get_device_list hands out pointers to it).
struct Device {
  ibv_device ibv;  // first
  std::string netdev;
  std::optional<udp::Address> address;  // chosen in RFAB_VERBS_IFACE (IFACE@ADDRESS); else the netdev's first
  std::mutex mu;                   // guards runtime
  std::weak_ptr<Runtime> runtime;  // shared by the contexts opened on this device
};

struct Context {
  verbs_context vctx;  // ends with the ibv_context applications get
  Device* dev = nullptr;
  std::shared_ptr<Runtime> rt;
  int objects = 0;  // PDs, CQs and channels still alive (close_device refuses while any are)
};

struct Pd {
  ibv_pd ibv;
  Context* ctx = nullptr;
  rc::ProtectionDomain pd;
  int users = 0;  // MRs and QPs
};

struct Mr {
  ibv_mr ibv;
  Pd* pd = nullptr;
  rc::MemoryRegion* mr = nullptr;
};

struct Channel {
  ibv_comp_channel ibv;
  Context* ctx = nullptr;
  std::mutex mu;
  std::deque<ibv_cq*> events;  // CQs notified and not yet taken by ibv_get_cq_event
  int cqs = 0;
};

struct Cq {
  ibv_cq ibv;
  Context* ctx = nullptr;
  std::unique_ptr<rc::CompletionQueue> cq;
  Channel* channel = nullptr;
  bool armed = false;
  // Completions taken by ibv_poll_cq so far, and the number pushed (taken + held) when the CQ was armed:
  // an armed CQ is signalled for a completion that arrives after ibv_req_notify_cq, not for one it
  // already held (as a device does; programs re-arm before they drain).
  uint64_t polled = 0;
  uint64_t armed_at = 0;
  int qps = 0;
  unsigned events_acked = 0;
};

struct Qp {
  ibv_qp ibv;
  Context* ctx = nullptr;
  Pd* pd = nullptr;
  Cq* send_cq = nullptr;
  Cq* recv_cq = nullptr;
  std::unique_ptr<rc::QueuePair> qp;
  ibv_qp_init_attr init{};           // as created (caps as granted)
  std::optional<ibv_ah_attr> ah;     // the address vector given at RTR
  bool attached = false;             // its packets go through the driver
  // IBV_SEND_INLINE: one slot per send queue entry; a slot is reused only after max_send_wr more posts,
  // by which time the WR that used it has left the send queue (the engine refuses posts past the depth).
  std::vector<uint8_t> inline_buf;
  rc::MemoryRegion* inline_mr = nullptr;
  uint64_t posted = 0;
};

// The provider object behind a libibverbs pointer: its `ibv` member is the first, so the addresses agree.
template <class T, class I>
T* from(I* p) {
  return reinterpret_cast<T*>(p);
}

// The Context behind an ibv_context (which sits at the end of the verbs_context that starts a Context).
inline Context* context_of(ibv_context* c) {
  return reinterpret_cast<Context*>(reinterpret_cast<char*>(c) - offsetof(verbs_context, context));
}

}  // namespace rfab::uverbs
