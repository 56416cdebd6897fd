/* Shared between the switch-port program (lab_port.bpf.c) and its loader (rfab-lab-port).
 * One program instance per attached hook; each instance has its own maps, so every value here is per port. */
#ifndef RFAB_LAB_PORT_TYPES_H
#define RFAB_LAB_PORT_TYPES_H

#include <linux/bpf.h> /* struct bpf_spin_lock */
#include <linux/types.h>

/* Written by the loader (array map, one element); read by the program for every packet, so a change
 * takes effect at once without reloading. */
struct lab_port_config {
  __u64 vq_rate_bytes_per_s; /* virtual queue drain rate; 0 = no virtual queue (never marks) */
  __u64 seed;                /* seed of the drop decisions */
  __u32 mark_threshold;      /* mark CE when the virtual queue holds more than this many bytes */
  __u32 drop_p32;            /* drop probability of a RoCE packet, as a fraction of 2^32 */
  __u16 roce_port;           /* UDP destination port that makes a packet RoCE v2 (4791) */
  __u16 pad[3];
};

/* Per-CPU counters; the loader sums them over CPUs. Packet counts are wire packets (a GSO packet counts
 * its segments; gso_skbs says how often that happened, since drops and marks act on whole skbs). */
struct lab_port_stats {
  __u64 frames;       /* every skb the hook saw */
  __u64 bytes;        /* their bytes (L2 included) */
  __u64 roce_packets; /* IPv4/IPv6 UDP to roce_port */
  __u64 roce_bytes;
  __u64 ce_marked;    /* RoCE packets this port set to CE */
  __u64 ce_arrived;   /* RoCE packets that already carried CE */
  __u64 not_ect;      /* RoCE packets the virtual queue wanted to mark but that were Not-ECT */
  __u64 dropped;      /* RoCE packets dropped by the seeded random drop */
  __u64 gso_skbs;     /* skbs that carried more than one segment */
  __u64 dropped_psns; /* distinct (destination QP, PSN) among the dropped packets: the PSNs a receiver
                         misses at least once (a resend dropped again is not a second missing PSN) */
  __u64 dropped_again; /* dropped packets whose (destination QP, PSN) this port had dropped before */
};

/* The virtual queue: backlog in bytes, drained at vq_rate_bytes_per_s since last_ns. */
struct lab_port_vq {
  struct bpf_spin_lock lock;
  __u32 pad;
  __u64 backlog;
  __u64 last_ns;
  __u64 max_backlog; /* high-water mark, reported to user space */
};

#define LAB_PORT_MAX_SPORTS 4096
#define LAB_PORT_MAX_DROPPED_PSNS 65536 /* LRU: the most recent drops are the ones resends can repeat */

#endif
