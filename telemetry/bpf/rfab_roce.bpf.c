// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* RoCE v2 collector: one parser shared by an XDP program (ingress) and two tc programs (ingress,
 * egress). It counts per flow (src IP, dst IP, dest QP, direction), per UDP source port of a flow and per
 * direction of the interface, tracks request PSNs in a 256-PSN reorder window with a hole timeout (lost,
 * late, reordered, duplicates; psn_window_step.h), and reports notable events through a ring buffer.
 * Only one program is loaded per collector (the loader turns autoload off for the others). */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rfab/telemetry/bpf_types.h"
#include "rfab_opcode_classes.h" /* generated from fabric/wire's opcode table (opcode_classes_gen.cpp) */

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load (they live in .rodata, so the verifier sees constants). */
const volatile __u16 rfab_roce_port = 4791;
const volatile __u64 rfab_cnp_burst_window_ns = 1000000; /* 1 ms */
const volatile __u32 rfab_cnp_burst_threshold = 8;
const volatile __u64 rfab_ringbuf_wakeup_bytes = 64 * 1024;
/* Holes open longer than this are lost (their fill counts as late, not reordered); 0: only the window's
 * end loses them. */
const volatile __u64 rfab_hole_timeout_ns = RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT;

/* Flow storage. A hash map lookup with the 40-byte key cost ~40 ns per packet, most of the collector's
 * time (bench_telemetry with kernel.bpf_stats_enabled), so the lookup is layered:
 *   rfab_flow_cache (per CPU, direct-mapped): key hash -> slot, confirmed against the key the flow
 *     keeps in its first line (five 8-byte compares);
 *   rfab_flow_index (hash): key -> slot, only on a cache miss; it is what user space lists;
 *   rfab_flows (array, mmapable): the counters of slot i, shared by every CPU.
 * Slots are handed out once (rfab_flows_used) and never freed or moved while the maps exist, so a
 * cached key -> slot pair can never go stale and needs no invalidation. Sizes are the defaults; the
 * loader sets the real ones (bpf_map__set_max_entries, rfab_flow_capacity) before load. */
const volatile __u32 rfab_flow_capacity = 16384;
/* The longest frame the interface can carry (MTU + Ethernet + two VLAN tags); 0: unknown, no check. */
const volatile __u32 rfab_max_frame_len = 0;
__u32 rfab_flows_used = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, struct rfab_flow_key);
  __type(value, __u32);
} rfab_flow_index SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16384);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct rfab_flow_stats);
} rfab_flows SEC(".maps");

/* One element: the whole cache is one per-CPU block. (An array of RFAB_FLOW_CACHE_SLOTS per-CPU elements
 * made every lookup load a pointer from a 2 KB table first, and both loads missed on the veth path.) */
/* The request-PSN window of flow slot i (psn_window_step.h), under its own spin lock. Apart from
 * rfab_flows because a map whose values hold a bpf_spin_lock cannot be mmapped. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct rfab_psn_window);
} rfab_psn_windows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rfab_flow_cache);
} rfab_flow_cache SEC(".maps");

/* Request PSNs the general path counted, waiting (on this CPU) for the program's top level to run them
 * through their flows' windows once the packet, or every segment of a GSO skb, has been parsed and
 * counted. The window step is a global function with a stack frame of its own, and the GSO walk's
 * bpf_loop callback already sits three frames deep: calling the step from there would exceed the 512
 * bytes of stack the verifier allows a call chain. A hook program never runs twice at once on one CPU,
 * so the list is only ever this packet's. */
#define RFAB_PENDING_PSNS 256 /* at least the GSO walk's segment bound */
#define RFAB_PENDING_READ (1u << 31)
struct rfab_pending {
  __u32 n;
  __u32 pad;
  __u64 entry[RFAB_PENDING_PSNS]; /* flow slot << 32 | PSN | RFAB_PENDING_READ for a READ request */
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rfab_pending);
} rfab_pending SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RFAB_DIR_COUNT);
  __type(key, __u32);
  __type(value, struct rfab_totals);
} rfab_totals SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} rfab_events SEC(".maps");

#define RFAB_ETH_P_IP 0x0800
#define RFAB_ETH_P_IPV6 0x86DD
#define RFAB_ETH_P_8021Q 0x8100
#define RFAB_ETH_P_8021AD 0x88A8
#define RFAB_IPPROTO_UDP 17

struct rfab_vlan_hdr {
  __be16 tci;
  __be16 encapsulated_proto;
};

struct rfab_bth {
  __u8 opcode;
  __u8 flags; /* se, mig, pad count, transport version */
  __be16 pkey;
  __be32 dest_qp; /* fecn/becn/reserved in the top byte */
  __be32 psn;     /* ack request/reserved in the top byte */
};

struct rfab_aeth {
  __u8 syndrome;
  __u8 msn[3];
};

/* The class (enum rfab_op_class) of every BTH opcode, as fabric/wire's opcode table defines it: one byte
 * load per packet, in .rodata. Volatile so that clang reads it rather than reasoning from its contents,
 * which the verifier does not see: clang would drop the bounds checks on a class (every entry is below
 * RFAB_OPC_COUNT) that the verifier needs before the class indexes a flow's counters. */
static const volatile __u8 rfab_opcode_class[256] = RFAB_OPCODE_CLASS_TABLE;

static __always_inline __u32 rfab_op_class_of(__u8 opcode)
{
  return rfab_opcode_class[opcode];
}

/* Requests carry the requester's PSN sequence; responses reuse those PSNs with coalescing, so only
 * requests are checked for gaps. */
static __always_inline int rfab_is_request(__u32 cls)
{
  return cls < RFAB_OPC_COUNT && ((RFAB_OPC_REQUEST_MASK >> cls) & 1);
}

/* The AETH type (syndrome bits 6..5) says ACK (0), RNR NAK (1), reserved (2) or NAK (3): the NAKs are
 * the odd types. */
static __always_inline int rfab_aeth_is_nak(__u8 syndrome)
{
  return (syndrome >> 5) & 1;
}

static __always_inline __u32 rfab_nak_kind_of(__u8 syndrome)
{
  __u8 type = (syndrome >> 5) & 3;
  __u8 value = syndrome & 0x1F;
  if (type == 1)
    return RFAB_NAK_RNR;
  return value <= 4 ? value : RFAB_NAK_OTHER;
}

static __always_inline void rfab_emit(struct rfab_totals *t, const struct rfab_flow_key *key, __u32 type, __u32 psn,
                                      __u32 expected, __u32 value)
{
  struct rfab_event *ev = bpf_ringbuf_reserve(&rfab_events, sizeof(*ev), 0);
  if (!ev) {
    t->events_dropped++;
    return;
  }
  ev->ts_ns = bpf_ktime_get_ns();
  __builtin_memcpy(&ev->key, key, sizeof(ev->key));
  ev->type = type;
  ev->psn = psn;
  ev->expected_psn = expected;
  ev->value = value;
  /* Waking the reader costs microseconds per event (an irq_work and a syscall return); it drains the
   * buffer on a timer anyway, so wake it only when the buffer is filling up. */
  __u64 used = bpf_ringbuf_query(&rfab_events, BPF_RB_AVAIL_DATA);
  bpf_ringbuf_submit(ev, used >= rfab_ringbuf_wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Cache slot of a key: Fibonacci hashing of the QP (and direction) offset by a mix of the addresses'
 * low words, so the consecutive QP numbers of one host pair land on distinct slots. A collision only
 * costs a miss. */
static __always_inline __u32 rfab_cache_slot_of(__u32 src_lo, __u32 src_hi, __u32 dst_lo, __u32 dst_hi, __u32 qp,
                                                __u32 dir)
{
  __u32 peers = (src_hi ^ src_lo) * 0x85EBCA77u ^ (dst_hi ^ dst_lo);
  __u32 h = (qp ^ (dir << 24)) + peers * 0xC2B2AE3Du;
  return (h * 0x9E3779B1u) >> (32 - RFAB_FLOW_CACHE_BITS);
}

static __always_inline __u32 rfab_cache_slot(const struct rfab_flow_key *k)
{
  const __u32 *w = (const void *)k;
  return rfab_cache_slot_of(w[0], w[3], w[4], w[7], k->qp, k->dir);
}

/* This CPU's flow cache (one element holds all of it). */
static __always_inline struct rfab_flow_cache *rfab_flow_cache_block(void)
{
  __u32 zero = 0;
  return bpf_map_lookup_elem(&rfab_flow_cache, &zero);
}

/* The flow a cache entry names, if its key is w0..w4 (a struct rfab_flow_key as five 64-bit words);
 * NULL on a miss (empty entry, or another flow's). The words are compared in registers. The flow's slot is
 * cached - 1. */
static __always_inline struct rfab_flow_stats *rfab_cache_hit(__u32 cached, __u64 w0, __u64 w1, __u64 w2, __u64 w3,
                                                              __u64 w4)
{
  if (!cached)
    return 0;
  __u32 slot = cached - 1;
  struct rfab_flow_stats *s = bpf_map_lookup_elem(&rfab_flows, &slot);
  if (!s)
    return 0;
  const __u64 *k = (const void *)&s->key;
  if (((k[0] ^ w0) | (k[1] ^ w1) | (k[2] ^ w2) | (k[3] ^ w3) | (k[4] ^ w4)) != 0)
    return 0;
  return s;
}

/* The slot of a flow seen before, or a new one; -1 (and counted) when every slot is taken. */
static __always_inline long rfab_flow_slot(struct rfab_totals *t, const struct rfab_flow_key *key)
{
  __u32 *found = bpf_map_lookup_elem(&rfab_flow_index, key);
  if (found)
    return *found;
  /* Checked before taking a number so that a full table does not wind the counter round to 0. */
  if (*(volatile __u32 *)&rfab_flows_used >= rfab_flow_capacity) {
    t->flow_map_full++;
    return -1;
  }
  __u32 slot = __sync_fetch_and_add(&rfab_flows_used, 1);
  if (slot >= rfab_flow_capacity) {
    t->flow_map_full++;
    return -1;
  }
  /* Key and owner are set before the slot is published through the index: any CPU that finds the slot
   * there also sees them. */
  struct rfab_flow_stats *fresh = bpf_map_lookup_elem(&rfab_flows, &slot);
  if (fresh) {
    __u32 cpu = bpf_get_smp_processor_id();
    __builtin_memcpy(&fresh->key, key, sizeof(fresh->key));
    fresh->owner_cpu_plus_one = cpu < 0xFFFF ? (__u16)(cpu + 1) : 0;
  }
  if (bpf_map_update_elem(&rfab_flow_index, key, &slot, BPF_NOEXIST) == 0)
    return slot;
  /* Another CPU created the flow at the same moment: use its slot (ours stays zero and unlisted). */
  found = bpf_map_lookup_elem(&rfab_flow_index, key);
  if (found)
    return *found;
  t->flow_map_full++;
  return -1;
}

/* Returns the flow's stats and sets *slot, creating the flow; NULL (and counted) when the table is full. */
static __always_inline struct rfab_flow_stats *rfab_flow(struct rfab_totals *t, const struct rfab_flow_key *key,
                                                         __u32 *slot)
{
  struct rfab_flow_cache *c = rfab_flow_cache_block();
  if (!c)
    return 0;
  __u32 ci = rfab_cache_slot(key) & (RFAB_FLOW_CACHE_SLOTS - 1);
  const __u64 *w = (const void *)key;
  __u32 cached = c->slot_plus_one[ci];
  struct rfab_flow_stats *s = rfab_cache_hit(cached, w[0], w[1], w[2], w[3], w[4]);
  if (s) {
    *slot = cached - 1;
    return s;
  }
  long found = rfab_flow_slot(t, key);
  if (found < 0)
    return 0;
  *slot = (__u32)found;
  c->slot_plus_one[ci] = *slot + 1;
  return bpf_map_lookup_elem(&rfab_flows, slot);
}

static __always_inline __u32 rfab_reorder_bucket(__u32 distance)
{
  return distance < 2     ? 0
         : distance < 4   ? 1
         : distance < 8   ? 2
         : distance < 16  ? 3
         : distance < 32  ? 4
         : distance < 64  ? 5
         : distance < 128 ? 6
                          : 7;
}

/* Raises *max to v (several CPUs may race: the larger value wins). */
static __always_inline void rfab_raise_max(__u64 *max, __u64 v)
{
  for (int i = 0; i < 4; i++) {
    __u64 m = *(volatile __u64 *)max;
    if (v <= m || __sync_val_compare_and_swap(max, m, v) == m)
      break;
  }
}

static __always_inline void rfab_count_reordered(struct rfab_totals *t, struct rfab_flow_stats *s,
                                                 const struct rfab_psn_step *st)
{
  __sync_fetch_and_add(&s->reordered, 1);
  __sync_fetch_and_add(&s->reorder_distance_sum, st->distance);
  __u32 b = rfab_reorder_bucket(st->distance);
  if (b < RFAB_REORDER_BUCKETS)
    __sync_fetch_and_add(&s->reorder_hist[b], 1);
  rfab_raise_max(&s->reorder_distance_max, st->distance);
  rfab_raise_max(&s->reorder_delay_max_ns, st->age_ns);
  t->reordered++;
}

static __always_inline void rfab_count_lost(struct rfab_totals *t, struct rfab_flow_stats *s,
                                            const struct rfab_flow_key *key, __u32 psn, __u32 expected, __u32 n)
{
  __sync_fetch_and_add(&s->lost, n);
  t->lost += n;
  rfab_emit(t, key, RFAB_EV_PSN_LOST, psn, expected, n);
}

/* The window step of one request under the flow window's lock (psn_window_step.h). A global function, so
 * the verifier checks it once on its own rather than once for every parsing path that reaches it (the
 * step's bit loops made the inlined programs exceed the verifier's budget). Returns the expected PSN before
 * the step (for the lost event), or -1 when the slot has no window. */
__noinline long rfab_psn_track_step(__u32 slot, __u32 psn, __u32 is_read, struct rfab_psn_step *st)
{
  if (!st)
    return -1;
  struct rfab_psn_window *w = bpf_map_lookup_elem(&rfab_psn_windows, &slot);
  if (!w)
    return -1;
  __u64 now = bpf_ktime_get_ns(); /* read before the lock: no helper may run under it */
  bpf_spin_lock(&w->lock);
  __u32 expected = rfab_psn_locked_begin(w);
  rfab_psn_window_step(w, psn, is_read, now, rfab_hole_timeout_ns, st);
  rfab_psn_locked_end(w);
  bpf_spin_unlock(&w->lock);
  return expected;
}

/* Tracks one request's PSN: the window step, then the counts it calls for. */
static __always_inline void rfab_track_psn(struct rfab_totals *t, struct rfab_flow_stats *s, __u32 slot,
                                           const struct rfab_flow_key *key, __u32 psn, __u32 is_read)
{
  struct rfab_psn_step st = {};
  long before = rfab_psn_track_step(slot, psn, is_read, &st);
  if (before < 0)
    return;
  __u32 expected = (__u32)before;
  switch (st.kind) {
  case RFAB_PSN_FORWARD:
    if (st.opened) {
      __sync_fetch_and_add(&s->psn_gaps, 1);
      __sync_fetch_and_add(&s->psn_holes, st.opened);
      t->psn_gaps++;
      t->psn_holes += st.opened;
    }
    if (st.lost)
      rfab_count_lost(t, s, key, psn, expected, st.lost);
    break;
  case RFAB_PSN_REORDERED:
    rfab_count_reordered(t, s, &st);
    break;
  case RFAB_PSN_LATE:
    __sync_fetch_and_add(&s->late, 1);
    t->late++;
    rfab_count_lost(t, s, key, psn, expected, 1);
    break;
  case RFAB_PSN_DUPLICATE:
    __sync_fetch_and_add(&s->duplicates, 1);
    t->duplicates++;
    break;
  case RFAB_PSN_TOO_OLD:
    __sync_fetch_and_add(&s->too_old, 1);
    t->too_old++;
    break;
  default:
    return;
  }
  if (st.kind != RFAB_PSN_FORWARD) {
    __sync_fetch_and_add(&s->psn_backwards, 1);
    t->psn_backwards++;
  }
}

/* Queues a request PSN of flow `slot` for rfab_track_pending (see struct rfab_pending). */
static __always_inline void rfab_defer_psn(__u32 slot, __u32 psn, __u32 cls)
{
  __u32 zero = 0;
  struct rfab_pending *p = bpf_map_lookup_elem(&rfab_pending, &zero);
  if (!p)
    return;
  __u32 n = p->n;
  if (n >= RFAB_PENDING_PSNS) /* for the verifier: one packet queues one, a GSO walk at most this many */
    return;
  p->entry[n] = (__u64)slot << 32 | psn | (cls == RFAB_OPC_READ_REQUEST ? RFAB_PENDING_READ : 0);
  p->n = n + 1;
}

/* Runs the PSNs the general path queued through their flows' windows, in arrival order, and counts what
 * each step found. */
static __noinline void rfab_track_pending(__u32 dir)
{
  __u32 zero = 0;
  struct rfab_pending *p = bpf_map_lookup_elem(&rfab_pending, &zero);
  if (!p)
    return;
  __u32 n = p->n;
  p->n = 0;
  struct rfab_totals *t = bpf_map_lookup_elem(&rfab_totals, &dir);
  if (!t)
    return;
  for (__u32 i = 0; i < RFAB_PENDING_PSNS; i++) {
    if (i >= n)
      break;
    __u64 e = p->entry[i];
    __u32 slot = (__u32)(e >> 32);
    struct rfab_flow_stats *s = bpf_map_lookup_elem(&rfab_flows, &slot);
    if (!s)
      continue;
    rfab_track_psn(t, s, slot, &s->key, (__u32)e & RFAB_PSN_MASK, ((__u32)e & RFAB_PENDING_READ) != 0);
  }
}

/* The word of `port` in a flow's entropy table (the owner's or the foreign one), or NULL when the table
 * has no slot for it; claims a free slot for a port seen first. The owner claims with a plain store
 * (it is the table's only writer), other CPUs with a compare-and-swap. */
static __always_inline __u64 *rfab_entropy_word(struct rfab_flow_stats *s, __u16 port, int owned)
{
  __u64 tag = (__u64)(port + 1) << RFAB_ENTROPY_PORT_SHIFT;
  for (__u32 k = 0; k < RFAB_ENTROPY_SLOTS; k++) {
    __u32 i = (port + k) & (RFAB_ENTROPY_SLOTS - 1);
    __u64 *w = owned ? &s->entropy[i] : &s->foreign_entropy[i];
    __u64 v = *(volatile __u64 *)w;
    if ((v & ~RFAB_ENTROPY_COUNT_MASK) == tag)
      return w;
    if (v)
      continue;
    if (owned) {
      *w = tag;
      return w;
    }
    v = __sync_val_compare_and_swap(w, 0, tag);
    if (v == 0 || (v & ~RFAB_ENTROPY_COUNT_MASK) == tag)
      return w;
  }
  return 0;
}

static __always_inline void rfab_count_entropy(struct rfab_flow_stats *s, __u16 port, int owned)
{
  __u64 *w = rfab_entropy_word(s, port, owned);
  if (!w)
    __sync_fetch_and_add(&s->entropy_other, 1);
  else if (owned)
    *w += 1;
  else
    __sync_fetch_and_add(w, 1);
}

static __always_inline void rfab_count_cnp(struct rfab_totals *t, struct rfab_flow_stats *s,
                                           const struct rfab_flow_key *key, __u32 psn)
{
  __u64 now = bpf_ktime_get_ns();
  __sync_fetch_and_add(&s->cnps, 1);
  t->cnps++;
  if (now - s->cnp_window_start_ns > rfab_cnp_burst_window_ns) {
    s->cnp_window_start_ns = now;
    s->cnp_in_window = 0;
  }
  s->cnp_in_window++;
  if (s->cnp_in_window == rfab_cnp_burst_threshold)
    rfab_emit(t, key, RFAB_EV_CNP_BURST, psn, 0, s->cnp_in_window);
}

/* The counts every packet adds. Both the general path (rfab_handle, rfab_account) and the fast path
 * (rfab_fast_path) count through these, so the two cannot drift apart. */

/* Every frame the hook sees, RoCE or not. */
static __always_inline void rfab_count_frame(struct rfab_totals *t, __u64 wire_len)
{
  t->frames++;
  t->bytes += wire_len;
}

/* Every RoCE packet, into its direction's totals (also when it fits no flow). */
static __always_inline void rfab_count_roce(struct rfab_totals *t, __u64 wire_len)
{
  t->roce_packets++;
  t->roce_bytes += wire_len;
}

/* Whether this CPU created the flow and so is the only writer of its plain counters. */
static __always_inline int rfab_owned_here(const struct rfab_flow_stats *s)
{
  return s->owner_cpu_plus_one == bpf_get_smp_processor_id() + 1;
}

/* A RoCE packet's every-packet counters in its flow. `packets` is not kept here: it is the sum of the
 * opcode classes (user space adds them up). The owner CPU adds without a lock; others add atomically to
 * their own copies (see struct rfab_flow_stats). */
static __always_inline void rfab_count_flow(struct rfab_flow_stats *s, __u32 cls, __u64 wire_len, int owned)
{
  if (owned) {
    s->bytes += wire_len;
    if (cls < RFAB_OPC_COUNT)
      s->op_class[cls]++;
  } else {
    __sync_fetch_and_add(&s->foreign_bytes, wire_len);
    if (cls < RFAB_OPC_COUNT)
      __sync_fetch_and_add(&s->foreign_op_class[cls], 1);
  }
}

/* What one RoCE v2 packet says, read from its BTH (and AETH on an ACK/NAK). */
struct rfab_pkt {
  __u8 opcode;
  __u8 syndrome; /* AETH syndrome; 0 unless an ACK */
  __u8 ecn;
  __u8 malformed; /* too short for the BTH (or the AETH of an ACK) */
  __u16 sport; /* UDP source port: the packet's ECMP entropy */
  __u32 qp;
  __u32 psn;
};

static __always_inline void rfab_pkt_from_bth(struct rfab_pkt *pkt, const struct rfab_bth *bth,
                                              const struct rfab_aeth *aeth_or_null)
{
  pkt->opcode = bth->opcode;
  pkt->qp = bpf_ntohl(bth->dest_qp) & 0xFFFFFF;
  pkt->psn = bpf_ntohl(bth->psn) & RFAB_PSN_MASK;
  if (rfab_op_class_of(pkt->opcode) == RFAB_OPC_ACK) {
    if (aeth_or_null)
      pkt->syndrome = aeth_or_null->syndrome;
    else
      pkt->malformed = 1;
  }
}

/* Counts one RoCE v2 packet of `wire_len` bytes into the totals, its flow and its flow's source port
 * (key.qp is set here). */
static __always_inline void rfab_account(struct rfab_totals *t, struct rfab_flow_key *key,
                                         const struct rfab_pkt *pkt, __u64 wire_len)
{
  if (pkt->malformed) {
    t->malformed++;
    return;
  }
  key->qp = pkt->qp;
  __u32 cls = rfab_op_class_of(pkt->opcode);
  __u8 syndrome = pkt->syndrome;
  __u32 psn = pkt->psn;

  rfab_count_roce(t, wire_len);
  if (pkt->ecn == 3)
    t->ecn_ce++;
  int is_nak = cls == RFAB_OPC_ACK && rfab_aeth_is_nak(syndrome);
  if (is_nak)
    t->naks++;

  __u32 slot = 0;
  struct rfab_flow_stats *s = rfab_flow(t, key, &slot);
  if (!s) {
    if (cls == RFAB_OPC_CNP)
      t->cnps++;
    return;
  }
  int owned = rfab_owned_here(s);
  rfab_count_flow(s, cls, wire_len, owned);
  rfab_count_entropy(s, pkt->sport, owned);
  if (pkt->ecn == 3)
    __sync_fetch_and_add(&s->ecn_ce, 1);
  if (is_nak) {
    __u32 kind = rfab_nak_kind_of(syndrome);
    if (kind < RFAB_NAK_COUNT)
      __sync_fetch_and_add(&s->naks[kind], 1);
    rfab_emit(t, key, RFAB_EV_NAK, psn, 0, syndrome);
  }
  if (cls == RFAB_OPC_CNP)
    rfab_count_cnp(t, s, key, psn);
  else if (rfab_is_request(cls))
    rfab_defer_psn(slot, psn, cls);
}

/* Parses Ethernet/VLAN/IP/UDP up to the BTH. Returns where the BTH starts (it may lie past data_end)
 * and fills the flow key's addresses and the IP ECN bits, or NULL when the frame is not RoCE v2
 * (counted by the caller). */
static __always_inline void *rfab_parse_to_bth(void *data, void *data_end, __u32 dir, struct rfab_flow_key *key,
                                             __u8 *ecn, __u16 *sport)
{
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end)
    return 0;
  __u16 proto = bpf_ntohs(eth->h_proto);
  void *p = eth + 1;
#pragma unroll
  for (int i = 0; i < 2; i++) {
    if (proto != RFAB_ETH_P_8021Q && proto != RFAB_ETH_P_8021AD)
      break;
    struct rfab_vlan_hdr *vh = p;
    if ((void *)(vh + 1) > data_end)
      return 0;
    proto = bpf_ntohs(vh->encapsulated_proto);
    p = vh + 1;
  }

  key->dir = (__u8)dir;
  if (proto == RFAB_ETH_P_IP) {
    struct iphdr *ip = p;
    if ((void *)(ip + 1) > data_end)
      return 0;
    __u8 ihl = *(__u8 *)ip & 0x0F;
    if (ihl < 5 || ip->protocol != RFAB_IPPROTO_UDP || (bpf_ntohs(ip->frag_off) & 0x3FFF))
      return 0;
    *ecn = ip->tos & 3;
    key->family = 4;
    key->src[10] = 0xFF;
    key->src[11] = 0xFF;
    key->dst[10] = 0xFF;
    key->dst[11] = 0xFF;
    __builtin_memcpy(&key->src[12], &ip->saddr, 4);
    __builtin_memcpy(&key->dst[12], &ip->daddr, 4);
    p = (__u8 *)p + ihl * 4;
  } else if (proto == RFAB_ETH_P_IPV6) {
    struct ipv6hdr *ip6 = p;
    if ((void *)(ip6 + 1) > data_end)
      return 0;
    /* Extension headers are not followed: RoCE v2 senders do not use them. */
    if (ip6->nexthdr != RFAB_IPPROTO_UDP)
      return 0;
    *ecn = (bpf_ntohl(*(__be32 *)ip6) >> 20) & 3;
    key->family = 6;
    __builtin_memcpy(key->src, &ip6->saddr, 16);
    __builtin_memcpy(key->dst, &ip6->daddr, 16);
    p = ip6 + 1;
  } else {
    return 0;
  }

  struct udphdr *udp = p;
  if ((void *)(udp + 1) > data_end)
    return 0;
  if (bpf_ntohs(udp->dest) != rfab_roce_port)
    return 0;
  *sport = bpf_ntohs(udp->source);
  return udp + 1;
}

/* One frame seen whole (XDP, or a tc skb that is not GSO). `wire_len` is its length on the wire
 * (without FCS). */
static __always_inline void rfab_handle(void *data, void *data_end, __u64 wire_len, __u32 dir)
{
  struct rfab_totals *t = bpf_map_lookup_elem(&rfab_totals, &dir);
  if (!t)
    return;
  rfab_count_frame(t, wire_len);

  struct rfab_flow_key key = {};
  struct rfab_pkt pkt = {};
  struct rfab_bth *bth = rfab_parse_to_bth(data, data_end, dir, &key, &pkt.ecn, &pkt.sport);
  if (!bth) {
    t->not_roce++;
    return;
  }
  if ((void *)(bth + 1) > data_end) {
    t->malformed++;
    return;
  }
  struct rfab_aeth *aeth = (void *)(bth + 1);
  rfab_pkt_from_bth(&pkt, bth, (void *)(aeth + 1) <= data_end ? aeth : 0);
  rfab_account(t, &key, &pkt, wire_len);
}

/* Everything the fast path does not take, on XDP. */
static __noinline int rfab_xdp_general(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  rfab_handle(data, data_end, bpf_xdp_get_buff_len(ctx), RFAB_DIR_INGRESS);
  return 0;
}

/* Context fields read with one explicit load each: otherwise clang may compute `skb + offset` once and
 * load through the moved pointer on both sides of the pull, which the verifier rejects. */
#define RFAB_CTX_U32(skb, field)                                                                  \
  ({                                                                                              \
    __u32 __v;                                                                                    \
    asm volatile("%0 = *(u32 *)(%1 + %2)" : "=r"(__v) : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, field))); \
    __v;                                                                                          \
  })

/* A GSO skb (UDP GSO from rfab's own datapath, TSO/USO, or GRO on receive) is one skb for up to 64
 * packets on the wire: each segment repeats the headers in front of its own BTH, so every segment is
 * read and counted as the packet it is on the wire. Counting the skb once would report all but the
 * first segment's PSNs as lost. */
struct rfab_gso_walk {
  struct __sk_buff *skb;
  struct rfab_totals *t;
  struct rfab_flow_key key;
  __u8 ecn;
  __u16 sport;
  __u32 bth_off;     /* offset of the first segment's BTH (end of its UDP header) */
  __u32 seg_payload; /* UDP payload bytes per segment (gso_size); the last one may be shorter */
  __u32 payload;     /* UDP payload bytes in the whole skb */
  __u32 hdr_len;     /* bytes of headers each segment carries on the wire (Ethernet .. UDP, VLAN) */
};

static long rfab_gso_segment(__u64 i, void *arg)
{
  struct rfab_gso_walk *w = arg;
  __u64 start = i * w->seg_payload;
  if (start >= w->payload)
    return 1;
  __u64 seg = w->payload - start;
  if (seg > w->seg_payload)
    seg = w->seg_payload;
  struct rfab_pkt pkt = {};
  pkt.ecn = w->ecn;
  pkt.sport = w->sport;
  struct {
    struct rfab_bth bth;
    struct rfab_aeth aeth;
  } h;
  if (seg < sizeof(h.bth) ||
      bpf_skb_load_bytes(w->skb, w->bth_off + (__u32)start, &h.bth, sizeof(h.bth)) < 0) {
    w->t->malformed++;
    return 0;
  }
  int have_aeth = seg >= sizeof(h) &&
                  bpf_skb_load_bytes(w->skb, w->bth_off + (__u32)start + sizeof(h.bth), &h.aeth,
                                     sizeof(h.aeth)) == 0;
  rfab_pkt_from_bth(&pkt, &h.bth, have_aeth ? &h.aeth : 0);
  rfab_account(w->t, &w->key, &pkt, w->hdr_len + seg);
  return 0;
}

/* tc sees the frame after the receive path may have moved the outer VLAN tag into skb metadata;
 * count it back so bytes match what XDP (and the wire) see. */
static __noinline int rfab_handle_skb(struct __sk_buff *skb, __u32 dir)
{
  __u32 want = 14 + 8 + 40 + 8 + 12 + 4; /* two VLAN tags, IPv6, UDP, BTH, AETH */
  __u32 len = RFAB_CTX_U32(skb, len);
  __u32 vlan = RFAB_CTX_U32(skb, vlan_present) ? 4 : 0;
  __u32 segs = RFAB_CTX_U32(skb, gso_segs);
  __u32 seg_payload = RFAB_CTX_U32(skb, gso_size);
  if (RFAB_CTX_U32(skb, data_end) - RFAB_CTX_U32(skb, data) < want)
    bpf_skb_pull_data(skb, len < want ? len : want);
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  if (segs <= 1 || seg_payload == 0) {
    rfab_handle(data, data_end, (__u64)len + vlan, dir);
    return 0;
  }

  __u32 zero_dir = dir;
  struct rfab_totals *t = bpf_map_lookup_elem(&rfab_totals, &zero_dir);
  if (!t)
    return 0;
  struct rfab_gso_walk w = {};
  void *bth = rfab_parse_to_bth(data, data_end, dir, &w.key, &w.ecn, &w.sport);
  __u32 off = bth ? (__u32)(bth - data) : 0;
  if (!bth || off >= len) {
    /* Not RoCE (e.g. TCP TSO): its segments' headers are unknown here, so bytes count them once. */
    t->frames += segs;
    t->bytes += (__u64)len + vlan;
    t->not_roce++;
    return 0;
  }
  w.skb = skb;
  w.t = t;
  w.bth_off = off;
  w.seg_payload = seg_payload;
  w.payload = len - off;
  w.hdr_len = off + vlan;
  __u32 n = (w.payload + seg_payload - 1) / seg_payload;
  if (n > RFAB_PENDING_PSNS)
    n = RFAB_PENDING_PSNS;
  t->frames += n;
  t->bytes += (__u64)len + vlan + (__u64)(n - 1) * w.hdr_len;
  bpf_loop(n, rfab_gso_segment, &w, 0);
  return 0;
}

/* Words 1 and 3 (bytes 8-15 of an address: 00 00 ff ff a.b.c.d) and word 4 (qp, dir, family) of a
 * struct rfab_flow_key, built from an IPv4 address as loaded from the header and host-order fields. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RFAB_KEY_WORD_V4(addr) (0xFFFF0000ull | (__u64)(addr) << 32)
#define RFAB_KEY_WORD_QP(qp, dir, family) ((__u64)(qp) | (__u64)(dir) << 32 | (__u64)(family) << 40)
#else
#define RFAB_KEY_WORD_V4(addr) (0xFFFFull << 32 | (__u64)(addr))
#define RFAB_KEY_WORD_QP(qp, dir, family) ((__u64)(qp) << 32 | (__u64)(dir) << 24 | (__u64)(family) << 16)
#endif

/* What the fast path reads: Ethernet, IPv4, UDP, BTH and the 4 bytes after it (an ACK's AETH; in any
 * other RoCE packet at least its ICRC, so a well-formed frame always has them). */
#define RFAB_FAST_HDR_LEN (14 + 20 + 8 + 12 + 4)

/* The opcode classes a RoCE data stream is mostly made of, the ones the fast path takes. READ requests
 * (they start a PSN resync), atomics, CNPs and unknown opcodes are rare and go to the general path. */
#define RFAB_FAST_PATH_CLASSES                                                                            \
  (1u << RFAB_OPC_SEND | 1u << RFAB_OPC_WRITE | 1u << RFAB_OPC_READ_RESPONSE | 1u << RFAB_OPC_ACK)

/* The packets a RoCE data stream is mostly made of, counted through few instruction cache lines:
 * untagged Ethernet, IPv4 without options and not CE-marked, UDP to the RoCE port, of a flow that is in
 * this CPU's cache and owned by this CPU, and an RC opcode of RFAB_FAST_PATH_CLASSES: a SEND or RDMA
 * WRITE request carrying the expected PSN of a flow with no hole open (moved on lock-free), a READ
 * response, or an ACK that is not a NAK, whose UDP source port has (or can take) its home slot in the
 * owner's entropy table. For such a packet the general path (rfab_handle) would only count it into the
 * totals, the flow and its source port, and move a request's PSN window on by one; the fast path does
 * exactly that, through the same helpers (and the window's lock-free in-order step). Anything
 * else returns 0 having changed nothing, and the general path (a subprogram, so that its code stays off
 * these lines) takes the packet.
 * Why a second path: on the veth receive path the collector's cost follows the code it runs through
 * more than the work it does (bench_telemetry's stand-in programs: one that only jumps through 3 KB of
 * code cost 4-5% of the packet rate, one that reads the headers cost nothing), and the general path's
 * parsing, VLAN and IPv6 handling and key building spread over ~25 cache lines.
 * The flow key is compared in registers, as the words it is stored as (IPv4-mapped).
 * `frame` holds at least RFAB_FAST_HDR_LEN bytes (the caller checked, or copied them). */
static __always_inline int rfab_fast_path(const void *frame, __u64 wire_len, __u32 dir)
{
  const struct ethhdr *eth = frame;
  const struct iphdr *ip = (const void *)(eth + 1);
  const struct udphdr *udp = (const void *)(ip + 1);
  const struct rfab_bth *bth = (const void *)(udp + 1);
  if (eth->h_proto != bpf_htons(RFAB_ETH_P_IP))
    return 0;
  /* Version 4 with a 20-byte header, UDP, not a fragment, ECN not CE. */
  if (*(__u8 *)ip != 0x45 || ip->protocol != RFAB_IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3FFF)) ||
      (ip->tos & 3) == 3)
    return 0;
  if (udp->dest != bpf_htons(rfab_roce_port))
    return 0;
  __u8 opcode = bth->opcode;
  if ((opcode & RFAB_OPCODE_TRANSPORT_MASK) != RFAB_OPCODE_TRANSPORT_RC)
    return 0;
  __u32 cls = rfab_op_class_of(opcode);
  /* The bound the verifier needs before cls indexes the flow's counters: it does not follow the mask
   * test below. */
  if (cls >= RFAB_OPC_COUNT)
    return 0;
  if (!((RFAB_FAST_PATH_CLASSES >> cls) & 1))
    return 0;
  if (cls == RFAB_OPC_ACK && rfab_aeth_is_nak(((const struct rfab_aeth *)(bth + 1))->syndrome))
    return 0;
  const int request = rfab_is_request(cls);
  __u32 qp = bpf_ntohl(bth->dest_qp) & 0xFFFFFF;
  __u32 psn = bpf_ntohl(bth->psn) & RFAB_PSN_MASK;
  __u32 saddr = ip->saddr, daddr = ip->daddr;

  struct rfab_flow_cache *c = rfab_flow_cache_block();
  if (!c)
    return 0;
  __u32 ci = rfab_cache_slot_of(0, saddr, 0, daddr, qp, dir) & (RFAB_FLOW_CACHE_SLOTS - 1);
  __u32 cached = c->slot_plus_one[ci];
  struct rfab_flow_stats *s = rfab_cache_hit(cached, 0, RFAB_KEY_WORD_V4(saddr), 0, RFAB_KEY_WORD_V4(daddr),
                                             RFAB_KEY_WORD_QP(qp, dir, 4));
  if (!s || !rfab_owned_here(s))
    return 0;
  /* The source port's word in the owner's entropy table, at its home slot: its own, or free. */
  __u16 sport = bpf_ntohs(udp->source);
  __u64 *ew = &s->entropy[sport & (RFAB_ENTROPY_SLOTS - 1)];
  __u64 ev = *ew, etag = (__u64)(sport + 1) << RFAB_ENTROPY_PORT_SHIFT;
  if (ev && (ev & ~RFAB_ENTROPY_COUNT_MASK) != etag)
    return 0;
  struct rfab_totals *t = bpf_map_lookup_elem(&rfab_totals, &dir);
  if (!t)
    return 0;
  if (request) {
    /* Last, since it is the one step that may not apply: nothing is counted before it. */
    __u32 slot = cached - 1;
    struct rfab_psn_window *w = bpf_map_lookup_elem(&rfab_psn_windows, &slot);
    if (!w)
      return 0;
    /* Lock-free: the in-order request of a flow with no hole open (psn_window_step.h). */
    if (!rfab_psn_fast_in_order(w, psn))
      return 0;
  }
  *ew = (ev ? ev : etag) + 1;
  rfab_count_frame(t, wire_len);
  rfab_count_roce(t, wire_len);
  rfab_count_flow(s, cls, wire_len, 1);
  return 1;
}

/* Multi-buffer ("frags") aware: RoCE with a 4096-byte path MTU needs frames larger than a page minus
 * headroom, which native XDP on veth and many NICs only accepts from frags-aware programs. Headers are
 * always in the first buffer; the length counts every fragment. */
/* Generic XDP runs on the skb as the stack holds it: a GSO or GRO skb (up to 64 UDP datagrams behind one
 * set of headers) is one frame here, and the segment size that would split it is not visible to XDP. Its
 * later segments' PSNs would read as lost, so it is counted apart and not parsed (tc walks such skbs). */
static __noinline int rfab_xdp_unsplit(__u64 len)
{
  __u32 dir = RFAB_DIR_INGRESS;
  struct rfab_totals *t = bpf_map_lookup_elem(&rfab_totals, &dir);
  if (t) {
    t->frames++;
    t->bytes += len;
    t->unsplit_gso++;
  }
  return 0;
}

SEC("xdp.frags")
int rfab_xdp(struct xdp_md *ctx)
{
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  const __u64 len = bpf_xdp_get_buff_len(ctx);
  if (rfab_max_frame_len && len > rfab_max_frame_len) {
    rfab_xdp_unsplit(len);
    return XDP_PASS;
  }
  if (data + RFAB_FAST_HDR_LEN > data_end || !rfab_fast_path(data, len, RFAB_DIR_INGRESS)) {
    rfab_xdp_general(ctx);
    rfab_track_pending(RFAB_DIR_INGRESS);
  }
  return XDP_PASS;
}

/* The fast path for a tc skb that is one packet on the wire (not GSO); GSO skbs and whatever the fast
 * path does not take go to rfab_handle_skb. An skb whose headers are not all in its linear part (an
 * AF_PACKET sender's big frames have only the Ethernet header there) has them copied out rather than
 * pulled in: bpf_skb_pull_data reallocates the skb head (15-27 ns more per 4 KB frame). */
static __always_inline int rfab_tc(struct __sk_buff *skb, __u32 dir)
{
  if (RFAB_CTX_U32(skb, gso_segs) <= 1) {
    void *data = (void *)(long)skb->data;
    void *data_end = (void *)(long)skb->data_end;
    __u64 wire_len = (__u64)RFAB_CTX_U32(skb, len) + (RFAB_CTX_U32(skb, vlan_present) ? 4 : 0);
    if (data + RFAB_FAST_HDR_LEN <= data_end) {
      if (rfab_fast_path(data, wire_len, dir))
        return -1;
    } else {
      /* Two bytes in, so that the IPv4 addresses and BTH words are aligned (the verifier insists on
       * aligned stack access). */
      __u64 copy[(RFAB_FAST_HDR_LEN + 2 + 7) / 8];
      __u8 *frame = (__u8 *)copy + 2;
      if (bpf_skb_load_bytes(skb, 0, frame, RFAB_FAST_HDR_LEN) == 0 && rfab_fast_path(frame, wire_len, dir))
        return -1;
    }
  }
  rfab_handle_skb(skb, dir);
  rfab_track_pending(dir);
  return -1; /* TC_ACT_UNSPEC / TCX_NEXT: let the packet go on */
}

SEC("tc")
int rfab_tc_in(struct __sk_buff *skb)
{
  return rfab_tc(skb, RFAB_DIR_INGRESS);
}

SEC("tc")
int rfab_tc_eg(struct __sk_buff *skb)
{
  return rfab_tc(skb, RFAB_DIR_EGRESS);
}
