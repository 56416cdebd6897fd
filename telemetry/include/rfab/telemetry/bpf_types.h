/* Types shared by the eBPF collector programs (telemetry/bpf/rfab_roce.bpf.c) and the user-space loader.
 * Plain C with fixed-width kernel types so both sides agree byte for byte. Every name is prefixed rfab_
 * because the BPF side includes vmlinux.h, which already defines names such as `flow_stats`. */
#ifndef RFAB_TELEMETRY_BPF_TYPES_H
#define RFAB_TELEMETRY_BPF_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RFAB_DIR_INGRESS 0
#define RFAB_DIR_EGRESS 1
#define RFAB_DIR_COUNT 2

/* Opcode classes counted per flow (BTH opcode, any transport: RC, UC, UD, XRC). The class of each opcode
 * comes from fabric/wire's opcode table, through rfab_opcode_classes.h, which the build generates
 * (telemetry/bpf/opcode_classes_gen.cpp); UC, UD and XRC opcodes are classed by RC's layout. */
enum rfab_op_class {
  RFAB_OPC_SEND = 0,
  RFAB_OPC_WRITE = 1,
  RFAB_OPC_READ_REQUEST = 2,
  RFAB_OPC_READ_RESPONSE = 3,
  RFAB_OPC_ACK = 4, /* ACK and NAK (AETH) */
  RFAB_OPC_ATOMIC = 5,
  RFAB_OPC_ATOMIC_ACK = 6,
  RFAB_OPC_CNP = 7,
  RFAB_OPC_OTHER = 8, /* RD, reserved and manufacturer opcodes, and those RC leaves undefined */
  RFAB_OPC_COUNT = 9,
};

/* NAKs by AETH syndrome: the five NAK codes, RNR NAK, and any reserved NAK code. */
enum rfab_nak_kind {
  RFAB_NAK_PSN_SEQUENCE = 0,
  RFAB_NAK_INVALID_REQUEST = 1,
  RFAB_NAK_REMOTE_ACCESS = 2,
  RFAB_NAK_REMOTE_OPERATIONAL = 3,
  RFAB_NAK_INVALID_RD_REQUEST = 4,
  RFAB_NAK_RNR = 5,
  RFAB_NAK_OTHER = 6,
  RFAB_NAK_COUNT = 7,
};

/* One flow: (source IP, destination IP, destination QP, direction). IPv4 addresses are stored
 * IPv4-mapped (::ffff:a.b.c.d) so one key shape serves both families. 8-byte aligned and padded to
 * 40 bytes so the BPF side compares keys as five 64-bit words. */
struct rfab_flow_key {
  __u8 src[16];
  __u8 dst[16];
  __u32 qp; /* BTH destination QP, 24 bits */
  __u8 dir; /* RFAB_DIR_* */
  __u8 family; /* 4 or 6 */
  __u8 pad[2];
} __attribute__((aligned(8)));

/* Per-CPU direct-mapped cache: a hash of the flow key -> the flow's slot + 1 (0 = empty). Four bytes an
 * entry, so the whole cache stays in a few cache lines; a hit is confirmed against the key stored in the
 * flow itself, whose first line the packet reads anyway. */
#define RFAB_FLOW_CACHE_BITS 10
#define RFAB_FLOW_CACHE_SLOTS (1u << RFAB_FLOW_CACHE_BITS)
struct rfab_flow_cache {
  __u32 slot_plus_one[RFAB_FLOW_CACHE_SLOTS];
};

/* Request-PSN tracking: the per-flow reorder window (struct rfab_psn_window, in a map of its own since a
 * map value holding a bpf_spin_lock cannot be mmapped) and its step, shared with user space. */
#include "rfab/telemetry/psn_window_step.h"

/* Reordered packets by distance (PSNs below the highest seen when the late packet arrived):
 * 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, 128 and more (at most RFAB_PSN_WINDOW - 1). */
#define RFAB_REORDER_BUCKETS 8

/* UDP source ports (ECMP entropy) counted per flow: a direct-mapped table of RFAB_ENTROPY_SLOTS words,
 * slot = port % RFAB_ENTROPY_SLOTS (senders derive sprayed ports by adding an odd stride or one, which
 * keeps up to RFAB_ENTROPY_SLOTS of them in distinct slots; a port whose slot another holds takes the
 * next free one). A word is (port + 1) << 48 | packets, 0 = free. Ports beyond the table are counted in
 * entropy_other. */
#define RFAB_ENTROPY_SLOTS 16
#define RFAB_ENTROPY_PORT_SHIFT 48
#define RFAB_ENTROPY_COUNT_MASK ((1ull << RFAB_ENTROPY_PORT_SHIFT) - 1)

/* Laid out for the programs' per-packet path: each flow starts on a cache line of its own. A packet
 * reads the key and adds to bytes in the first line, to its opcode class in the second
 * (loaded in parallel with the first), and to its source port's word in the entropy table.
 * There are no per-packet timestamps: reading a clock on every packet cost about as much as a cache
 * miss, and rates come from user space's snapshot times.
 *
 * Counters of every packet have two copies. The CPU that created the flow (its owner: RSS keeps a QP's
 * packets on one receive queue, so usually the only CPU that sees them) adds to `bytes`, `op_class` and
 * `entropy` with plain adds: it is their only writer, since a hook program never runs twice at once on
 * one CPU. Any other CPU adds to `foreign_*` with atomic adds (and claims foreign entropy slots with a
 * compare-and-swap). User space reports the sums. The two locked adds this saves were 10 of the 25 ns
 * the XDP program spent per packet (BPF_PROG_TEST_RUN). The PSN window is shared, under its lock. */
struct rfab_flow_stats {
  /* hot: every packet */
  struct rfab_flow_key key; /* written once, before the flow is listed in the index */
  __u64 bytes; /* whole frames as on the wire (Ethernet header and VLAN tags, no FCS); owner's part */
  __u16 owner_cpu_plus_one; /* the CPU that adds to bytes/op_class/entropy, + 1 (0: none, all adds are foreign) */
  __u16 pad0[7];
  __u64 op_class[RFAB_OPC_COUNT]; /* owner's part */
  /* cold: some packets */
  __u64 ecn_ce;
  __u64 cnps;
  __u64 naks[RFAB_NAK_COUNT];
  __u64 psn_gaps;      /* forward jumps of the request PSN past the expected one (holes opened) */
  __u64 psn_holes;     /* PSNs those jumps skipped: each is later reordered, lost or still outstanding */
  __u64 lost;          /* holes that fell out of the reorder window, or were open longer than the hole timeout */
  __u64 late;          /* of those lost, holes filled after the hole timeout (a resend, or a very late original) */
  __u64 reordered;     /* late packets that filled a hole within the hole timeout */
  __u64 reorder_distance_sum; /* sum of their distances (PSNs below the highest seen) */
  __u64 reorder_distance_max;
  __u64 reorder_delay_max_ns; /* the longest a hole that filled in time (reordered) was open, in ns */
  __u64 reorder_hist[RFAB_REORDER_BUCKETS];
  __u64 duplicates;    /* request PSN seen before (inside the window): a retransmission */
  __u64 too_old;       /* request PSN below the window: a hole already counted lost, or an old duplicate */
  __u64 psn_backwards; /* request PSN below the highest seen: reordered + late + duplicates + too_old */
  __u64 entropy_other; /* packets whose source port found no entropy slot */
  __u64 cnp_window_start_ns; /* tracking state, not counters */
  __u32 cnp_in_window;
  __u32 pad;
  __u64 packets; /* filled in by user space: the sum of op_class (the programs leave it 0) */
  /* Added to by CPUs other than the owner (atomically). A snapshot adds them into bytes/op_class and
   * keeps them here as the part other CPUs counted. */
  __u64 foreign_bytes;
  __u64 foreign_op_class[RFAB_OPC_COUNT];
  __u64 entropy[RFAB_ENTROPY_SLOTS];         /* owner's source-port table */
  __u64 foreign_entropy[RFAB_ENTROPY_SLOTS]; /* other CPUs' */
} __attribute__((aligned(64)));


/* Per direction of the interface: everything the hook saw, including what did not fit a flow. */
struct rfab_totals {
  __u64 frames;
  __u64 bytes;
  __u64 roce_packets;
  __u64 roce_bytes;
  __u64 not_roce;      /* not IPv4/IPv6 + UDP to the RoCE port (or an IPv4 fragment) */
  __u64 malformed;     /* to the RoCE port but too short for BTH (or AETH on an ACK) */
  __u64 flow_map_full; /* RoCE packets counted here but in no flow because the flow map was full */
  __u64 events_dropped;/* notable events lost because the ring buffer was full */
  __u64 ecn_ce;
  __u64 cnps;
  __u64 naks;
  __u64 psn_gaps;
  __u64 psn_holes;
  __u64 lost;
  __u64 late;
  __u64 reordered;
  __u64 duplicates;
  __u64 too_old;
  __u64 psn_backwards;
  __u64 unsplit_gso;   /* XDP frames longer than one wire frame: a GSO/GRO skb generic XDP sees whole (its
                        * segments' headers are not there to read), counted once and not parsed */
};

enum rfab_event_type {
  RFAB_EV_NAK = 1,       /* value = AETH syndrome */
  RFAB_EV_PSN_LOST = 2,  /* value = PSNs lost at once: holes that fell out of the reorder window, or 1 for a
                          * hole filled after the hole timeout (psn = that PSN) */
  RFAB_EV_CNP_BURST = 3, /* value = CNPs inside the burst window */
};

struct rfab_event {
  __u64 ts_ns;
  struct rfab_flow_key key;
  __u32 type;
  __u32 psn;
  __u32 expected_psn;
  __u32 value;
};

#endif /* RFAB_TELEMETRY_BPF_TYPES_H */
