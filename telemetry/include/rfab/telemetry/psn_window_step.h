/* The per-flow request-PSN reorder window: its state and the one step a request makes in it. Plain C shared
 * by the BPF programs (telemetry/bpf/rfab_roce.bpf.c, which run it under the window's bpf_spin_lock) and by
 * user space (psn_window.cpp runs the very same code in the unit tests), so the two cannot drift apart.
 * Definitions: docs/telemetry.md, "PSN tracking".
 *
 * The window is the highest request PSN seen and the RFAB_PSN_WINDOW - 1 PSNs below it. A PSN skipped by
 * a forward jump is a hole until it arrives or falls out of the window. A hole is also given up on (lost)
 * when it has been open longer than the hole timeout: its fill after that is counted `late` (a resend of a
 * lost packet, or an original so late that the sender must have resent it), not reordered.
 *
 * Holes are kept in a ring of RFAB_PSN_RING bits indexed by PSN % RFAB_PSN_RING, twice the window, so that
 * the PSNs entering the window on a jump and those leaving it are different bits, and no group of
 * RFAB_PSN_STAMP_PSNS bits ever holds holes of both ends of the window: each group has one time stamp,
 * when its oldest open hole was opened. Bits outside the window are always clear. */
#ifndef RFAB_TELEMETRY_PSN_WINDOW_STEP_H
#define RFAB_TELEMETRY_PSN_WINDOW_STEP_H

#ifdef __bpf__
#define RFAB_PSN_FN static __always_inline
#else
#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>
#define RFAB_PSN_FN static inline
#endif

#define RFAB_PSN_MASK 0xFFFFFFu
#define RFAB_PSN_WINDOW 256u /* PSNs: the highest seen and the 255 below it */
#define RFAB_PSN_RING (2 * RFAB_PSN_WINDOW)
#define RFAB_PSN_RING_WORDS (RFAB_PSN_RING / 64)
#define RFAB_PSN_STAMP_PSNS 8u /* PSNs (ring bits) per open-time stamp */
#define RFAB_PSN_STAMPS (RFAB_PSN_RING / RFAB_PSN_STAMP_PSNS)
/* Stamps are bpf_ktime_get_ns() >> RFAB_PSN_TICK_SHIFT (1.024 us ticks) in 32 bits: hole ages are exact to
 * a tick up to 73 minutes. */
#define RFAB_PSN_TICK_SHIFT 10
/* Default hole timeout (the loader's CollectorConfig sets the real one): longer than reordering across
 * paths takes, shorter than a receiver's loss detection plus a resend takes. */
#define RFAB_PSN_HOLE_TIMEOUT_NS_DEFAULT 4000000ull
/* Bound on a configured hole timeout: a stamp's 32-bit ticks must not wrap within it. */
#define RFAB_PSN_HOLE_TIMEOUT_NS_MAX 60000000000ull

#define RFAB_PSN_VALID 1u  /* the flow has seen a request */
#define RFAB_PSN_RESYNC 2u /* the highest request was a READ request: the next PSN may jump by its responses */

/* The window's header word (`head`): what the lock-free in-order step needs, in one u64 it can move on
 * with a compare-and-swap. */
#define RFAB_PSN_HEAD_FLAGS_SHIFT 32 /* RFAB_PSN_VALID, RFAB_PSN_RESYNC */
#define RFAB_PSN_HEAD_BUSY (1ull << 39) /* a locked step is changing the window: no lock-free step now */
#define RFAB_PSN_HEAD_OPEN_SHIFT 40  /* open holes (at most RFAB_PSN_WINDOW - 1) */

/* One flow's window (array map rfab_psn_windows, same slot as the flow). Every CPU that sees one of the
 * flow's requests updates it: the in-order request of a flow with no hole open by one compare-and-swap on
 * `head` (rfab_psn_fast_in_order), every other request under `lock` (rfab_psn_locked_begin, the step,
 * rfab_psn_locked_end). While writers run lock-free, `head` holds the expected PSN and flags, and the
 * fields of the same names are refreshed from it under the lock. */
struct rfab_psn_window {
  struct bpf_spin_lock lock;
  __u32 expected;    /* one past the highest PSN seen (24 bits) */
  __u32 flags;       /* RFAB_PSN_VALID, RFAB_PSN_RESYNC */
  __u32 open;        /* holes open now (the bits set in `holes`): the flow's outstanding PSNs */
  __u64 holes[RFAB_PSN_RING_WORDS];  /* bit psn % RFAB_PSN_RING set: that PSN is an open hole */
  __u32 opened_at[RFAB_PSN_STAMPS];  /* per group of bits: when its oldest open hole was opened (ticks) */
  __u64 head; /* expected | flags << RFAB_PSN_HEAD_FLAGS_SHIFT | open << RFAB_PSN_HEAD_OPEN_SHIFT | busy */
} __attribute__((aligned(64)));

enum rfab_psn_kind {
  RFAB_PSN_FIRST,      /* the flow's first request: the window starts here */
  RFAB_PSN_FORWARD,    /* the expected PSN or beyond */
  RFAB_PSN_REORDERED,  /* filled a hole within the hole timeout */
  RFAB_PSN_LATE,       /* filled a hole open longer than the hole timeout: counted lost (and late) */
  RFAB_PSN_DUPLICATE,  /* inside the window, but not a hole: seen before */
  RFAB_PSN_TOO_OLD,    /* below the window */
};

/* What one request did, for the counters. */
struct rfab_psn_step {
  __u32 kind;     /* enum rfab_psn_kind */
  __u32 opened;   /* FORWARD: holes opened (PSNs skipped) */
  __u32 lost;     /* FORWARD: holes that left the window unfilled, and skipped PSNs that never entered it */
  __u32 distance; /* REORDERED, LATE: PSNs below the highest seen */
  __u64 age_ns;   /* REORDERED, LATE: how long the hole was open (to a stamp group's precision) */
};

RFAB_PSN_FN __u32 rfab_psn_popcount(__u64 x)
{
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return (__u32)((x * 0x0101010101010101ull) >> 56);
}

/* 1 when x is not 0, 0 when it is: arithmetic rather than a branch, so that the verifier has fewer paths
 * through the step to explore. */
RFAB_PSN_FN __u32 rfab_psn_nonzero(__u64 x)
{
  return (__u32)((x | (0 - x)) >> 63);
}

/* The in-order case alone, for the programs' fast path: the expected PSN of a flow whose last request was
 * not a READ, with no hole leaving the window. Returns 1 (window moved on by one) or 0 (nothing changed;
 * run rfab_psn_window_step). */
RFAB_PSN_FN int rfab_psn_window_in_order(struct rfab_psn_window *w, __u32 psn)
{
  if ((w->flags & (RFAB_PSN_VALID | RFAB_PSN_RESYNC)) != RFAB_PSN_VALID || w->expected != psn)
    return 0;
  if (w->open) {
    __u32 leaving = (psn - RFAB_PSN_WINDOW) & (RFAB_PSN_RING - 1);
    if ((w->holes[(leaving / 64) & (RFAB_PSN_RING_WORDS - 1)] >> (leaving % 64)) & 1)
      return 0;
  }
  w->expected = (psn + 1) & RFAB_PSN_MASK;
  return 1;
}

/* One request PSN through the window at time now_ns (bpf_ktime_get_ns), with holes given up on after
 * hole_timeout_ns (0: never, only the window's end loses them). */
RFAB_PSN_FN void rfab_psn_window_step(struct rfab_psn_window *w, __u32 psn, int is_read, __u64 now_ns,
                                      __u64 hole_timeout_ns, struct rfab_psn_step *st)
{
  __u32 now = (__u32)(now_ns >> RFAB_PSN_TICK_SHIFT);
  __u32 flags = RFAB_PSN_VALID | (is_read ? RFAB_PSN_RESYNC : 0);
  st->opened = st->lost = st->distance = 0;
  st->age_ns = 0;
  psn &= RFAB_PSN_MASK;
  if (!(w->flags & RFAB_PSN_VALID)) {
    st->kind = RFAB_PSN_FIRST;
    w->expected = (psn + 1) & RFAB_PSN_MASK;
    w->flags = flags;
    return;
  }
  __u32 expected = w->expected;
  __u32 delta = (psn - expected) & RFAB_PSN_MASK;
  if (delta < 0x800000) {
    /* Forward by delta (0: in order): PSNs expected..psn enter the window, as many leave it at the bottom
     * (256 lower, so other ring bits); the skipped ones become holes unless a READ request's responses
     * took them. A jump of a whole window or more empties it. */
    __u32 opens = delta && !(w->flags & RFAB_PSN_RESYNC);
    __u64 opens_mask = 0 - (__u64)opens; /* all ones when the skipped PSNs become holes */
    st->kind = RFAB_PSN_FORWARD;
    st->opened = delta & (__u32)opens_mask;
    __u32 open = w->open;
    if (delta >= RFAB_PSN_WINDOW) {
      /* The whole old window leaves; of the skipped PSNs, those below the new window never entered it. */
      for (__u32 i = 0; i < RFAB_PSN_RING_WORDS; i++) {
        st->lost += rfab_psn_popcount(w->holes[i]);
        w->holes[i] = 0;
      }
      open = 0;
      st->lost += (delta - (RFAB_PSN_WINDOW - 1)) & (__u32)opens_mask;
    }
    /* PSNs psn - len + 1 .. psn enter the window, one ring word's worth at a time (at most 5 pieces for
     * 256 PSNs); the same bits RFAB_PSN_WINDOW lower, half the ring away, leave it. Branch-light on
     * purpose: the verifier walks every path through this loop. */
    __u32 len = delta + 1 < RFAB_PSN_WINDOW ? delta + 1 : RFAB_PSN_WINDOW;
    __u32 cur = psn + 1 - len;
    __u32 rem = len;
    __u32 top = psn & (RFAB_PSN_RING - 1); /* the new highest: arrived, not a hole */
    for (__u32 k = 0; k < RFAB_PSN_WINDOW / 64 + 1; k++) {
      if (rem == 0)
        break;
      __u32 bit = cur & (RFAB_PSN_RING - 1);
      __u32 off = bit % 64;
      __u32 wi = (bit / 64) & (RFAB_PSN_RING_WORDS - 1);
      __u32 lw = (wi + RFAB_PSN_RING_WORDS / 2) & (RFAB_PSN_RING_WORDS - 1);
      __u32 n = rem < 64 - off ? rem : 64 - off;
      __u64 m = (~0ull >> (64 - n)) << off;
      __u64 leaving = w->holes[lw] & m;
      __u32 gone = rfab_psn_popcount(leaving);
      st->lost += gone;
      open -= gone;
      w->holes[lw] &= ~m;
      __u64 kept = w->holes[wi];
      __u64 top_bit = (1ull << (top % 64)) & (0 - (__u64)(1 ^ rfab_psn_nonzero((__u64)(top / 64) ^ wi)));
      __u64 fresh = m & ~top_bit & opens_mask;
      open += rfab_psn_popcount(fresh);
      /* A stamp group that had no hole open takes this jump's time; one that had keeps its older one. */
      for (__u32 g = 0; g < 64 / RFAB_PSN_STAMP_PSNS; g++) {
        __u64 gm = ((1ull << RFAB_PSN_STAMP_PSNS) - 1) << (g * RFAB_PSN_STAMP_PSNS);
        __u32 take = rfab_psn_nonzero(fresh & gm) & (1 ^ rfab_psn_nonzero(kept & gm));
        __u32 *stamp = &w->opened_at[(wi * (64 / RFAB_PSN_STAMP_PSNS) + g) & (RFAB_PSN_STAMPS - 1)];
        *stamp ^= (*stamp ^ now) & (0 - take);
      }
      w->holes[wi] = kept | fresh;
      cur += n;
      rem -= n;
    }
    w->open = open;
    w->expected = (psn + 1) & RFAB_PSN_MASK;
    w->flags = flags;
    return;
  }
  /* Behind the highest PSN seen: a late packet filling its hole, or one seen before. The highest PSN and
   * the READ resync stay as they are. */
  __u32 distance = (expected - 1 - psn) & RFAB_PSN_MASK;
  if (distance >= RFAB_PSN_WINDOW) {
    st->kind = RFAB_PSN_TOO_OLD;
    return;
  }
  __u32 bit = psn & (RFAB_PSN_RING - 1);
  __u32 word = (bit / 64) & (RFAB_PSN_RING_WORDS - 1);
  __u64 m = 1ull << (bit % 64);
  if (distance == 0 || !(w->holes[word] & m)) {
    st->kind = RFAB_PSN_DUPLICATE;
    return;
  }
  w->holes[word] &= ~m;
  w->open -= 1;
  __u32 age = now - w->opened_at[(bit / RFAB_PSN_STAMP_PSNS) & (RFAB_PSN_STAMPS - 1)];
  st->age_ns = (__u64)age << RFAB_PSN_TICK_SHIFT;
  st->distance = distance;
  st->kind = hole_timeout_ns && st->age_ns > hole_timeout_ns ? RFAB_PSN_LATE : RFAB_PSN_REORDERED;
}

/* The lock-free protocol around the step (BPF programs; user space runs it in the unit tests). */
#ifdef __bpf__
#define RFAB_PSN_LOAD_HEAD(p) (*(volatile __u64 *)(p))
#define RFAB_PSN_STORE_HEAD(p, v) (*(volatile __u64 *)(p) = (v))
#else
#define RFAB_PSN_LOAD_HEAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define RFAB_PSN_STORE_HEAD(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif

/* The header word of the window's fields (not busy). */
RFAB_PSN_FN __u64 rfab_psn_head_of(const struct rfab_psn_window *w)
{
  return (__u64)w->expected | (__u64)w->flags << RFAB_PSN_HEAD_FLAGS_SHIFT | (__u64)w->open << RFAB_PSN_HEAD_OPEN_SHIFT;
}

/* The expected PSN and flags of header word h into the window's fields (the locked step and readers of a
 * copy of the window use the fields; the lock-free step moves only the header word). */
RFAB_PSN_FN void rfab_psn_window_take_head(struct rfab_psn_window *w, __u64 h)
{
  w->expected = (__u32)h & RFAB_PSN_MASK;
  w->flags = (__u32)(h >> RFAB_PSN_HEAD_FLAGS_SHIFT) & (RFAB_PSN_VALID | RFAB_PSN_RESYNC);
}

/* The lock-free in-order step: the expected PSN of a flow whose last request was not a READ, with no hole
 * open and no locked step running, moves the window on by one with one compare-and-swap. With no hole
 * open none can leave the window, and the step (delta 0) changes nothing but the expected PSN, so this is
 * exactly rfab_psn_window_step's result. Returns 1 (moved on) or 0 (nothing changed: take the lock and
 * run the step; also when another CPU changed the word first). */
RFAB_PSN_FN int rfab_psn_fast_in_order(struct rfab_psn_window *w, __u32 psn)
{
  __u64 h = RFAB_PSN_LOAD_HEAD(&w->head);
  /* Flags exactly VALID, no hole open, not busy: the whole upper half is RFAB_PSN_VALID. */
  if ((h >> RFAB_PSN_HEAD_FLAGS_SHIFT) != RFAB_PSN_VALID || ((__u32)h & RFAB_PSN_MASK) != psn)
    return 0;
  __u64 next = (h & ~(__u64)RFAB_PSN_MASK) | ((psn + 1) & RFAB_PSN_MASK);
  return __sync_val_compare_and_swap(&w->head, h, next) == h;
}

/* Under the window's lock, before the step: marks the header word busy (from now on no lock-free step
 * succeeds: one that read the word before fails its compare-and-swap) and takes the expected PSN and flags
 * the lock-free steps left in it. Returns the expected PSN. */
RFAB_PSN_FN __u32 rfab_psn_locked_begin(struct rfab_psn_window *w)
{
  __u64 h = __sync_fetch_and_or(&w->head, RFAB_PSN_HEAD_BUSY);
  rfab_psn_window_take_head(w, h);
  return w->expected;
}

/* Under the window's lock, after the step: publishes the new header word, not busy. */
RFAB_PSN_FN void rfab_psn_locked_end(struct rfab_psn_window *w)
{
  RFAB_PSN_STORE_HEAD(&w->head, rfab_psn_head_of(w));
}

#endif /* RFAB_TELEMETRY_PSN_WINDOW_STEP_H */
