// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A switch port of the fabric lab, as a tc (clsact) program on one hook of one link. For RoCE v2 packets
 * (UDP to the configured port) it
 *   - drops with a configured probability, decided by a seeded hash of the packet's index on this port,
 *     so a run's drop pattern is reproducible and every drop is counted (the ground truth a receiver's
 *     or a collector's loss figure is checked against);
 *   - keeps a virtual queue: a token bucket that fills with every RoCE packet's bytes and drains at the
 *     configured rate; while it holds more than the threshold, ECT packets are marked CE. This is a
 *     phantom queue (as in HULL): it signals congestion at a rate below the link's, before a real queue
 *     builds, the way a switch marks on its egress queue depth;
 *   - counts frames, RoCE packets, marks, drops, and RoCE packets per UDP source port (the ECMP entropy,
 *     so a test sees which port took which path). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lab_port_types.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct lab_port_config);
} lab_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct lab_port_stats);
} lab_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct lab_port_vq);
} lab_vq SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, LAB_PORT_MAX_SPORTS);
  __type(key, __u16);
  __type(value, __u64);
} lab_sports SEC(".maps");

/* The (destination QP << 24 | PSN) of every packet dropped, so a resend dropped again is told apart. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, LAB_PORT_MAX_DROPPED_PSNS);
  __type(key, __u64);
  __type(value, __u8);
} lab_dropped_psns SEC(".maps");

/* Index of the next RoCE packet on this port: the input of the drop decision. */
__u64 lab_packet_index = 0;

static __always_inline __u64 splitmix64(__u64 x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/* Adds `len` bytes to the virtual queue after draining it for the time since the last packet; returns
 * the backlog including this packet. */
static __always_inline __u64 vq_enqueue(struct lab_port_vq* vq, __u64 rate, __u64 len) {
  const __u64 now = bpf_ktime_get_ns();
  __u64 backlog;
  bpf_spin_lock(&vq->lock);
  __u64 dt = now > vq->last_ns ? now - vq->last_ns : 0;
  if (dt > 1000000000ULL) dt = 1000000000ULL; /* an idle second empties any queue; keeps rate*dt < 2^64 */
  const __u64 drained = rate * dt / 1000000000ULL;
  backlog = vq->backlog > drained ? vq->backlog - drained : 0;
  backlog += len;
  vq->backlog = backlog;
  vq->last_ns = now;
  if (backlog > vq->max_backlog) vq->max_backlog = backlog;
  bpf_spin_unlock(&vq->lock);
  return backlog;
}

/* A dropped skb's segments: each carries its own BTH after the same headers (UDP GSO, or GRO on
 * receive), at bth_off + i * seg_payload. */
struct dropped_walk {
  struct __sk_buff* skb;
  struct lab_port_stats* st;
  __u32 bth_off;
  __u32 seg_payload;
  __u32 payload;
};

static long record_dropped_segment(__u64 i, void* arg) {
  struct dropped_walk* w = arg;
  const __u64 start = i * w->seg_payload;
  if (start >= w->payload) return 1;
  __u8 bth[12];
  if (bpf_skb_load_bytes(w->skb, w->bth_off + (__u32)start, bth, sizeof(bth)) < 0) return 1;
  const __u64 qpn = (__u64)bth[5] << 16 | (__u64)bth[6] << 8 | bth[7];
  const __u64 psn = (__u64)bth[9] << 16 | (__u64)bth[10] << 8 | bth[11];
  const __u64 key = qpn << 24 | psn;
  const __u8 one = 1;
  if (bpf_map_update_elem(&lab_dropped_psns, &key, &one, BPF_NOEXIST) == 0)
    w->st->dropped_psns += 1;
  else
    w->st->dropped_again += 1;
  return 0;
}

SEC("tc")
int lab_port(struct __sk_buff* skb) {
  const __u32 zero = 0;
  struct lab_port_config* cfg = bpf_map_lookup_elem(&lab_config, &zero);
  struct lab_port_stats* st = bpf_map_lookup_elem(&lab_stats, &zero);
  struct lab_port_vq* vq = bpf_map_lookup_elem(&lab_vq, &zero);
  if (!cfg || !st || !vq) return TC_ACT_OK;

  const __u64 segs = skb->gso_segs > 1 ? skb->gso_segs : 1;
  st->frames += segs;
  st->bytes += skb->len;
  if (segs > 1) st->gso_skbs += 1;

  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return TC_ACT_OK;

  __u8 ecn;
  struct udphdr* udp;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl < 5) return TC_ACT_OK;
    if (ip->frag_off & bpf_htons(0x3FFF)) return TC_ACT_OK; /* fragments are not RoCE */
    udp = (void*)ip + ip->ihl * 4;
    ecn = ip->tos & 3;
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = (void*)(eth + 1);
    if ((void*)(ip6 + 1) > data_end || ip6->nexthdr != IPPROTO_UDP) return TC_ACT_OK;
    udp = (void*)(ip6 + 1);
    ecn = (bpf_ntohs(*(__be16*)ip6) >> 4) & 3;
  } else {
    return TC_ACT_OK;
  }
  if ((void*)(udp + 1) > data_end || udp->dest != bpf_htons(cfg->roce_port)) return TC_ACT_OK;

  st->roce_packets += segs;
  st->roce_bytes += skb->len;
  const __u16 sport = bpf_ntohs(udp->source);
  __u64* per_port = bpf_map_lookup_elem(&lab_sports, &sport);
  if (per_port) {
    __sync_fetch_and_add(per_port, segs);
  } else {
    __u64 first = segs;
    bpf_map_update_elem(&lab_sports, &sport, &first, BPF_NOEXIST);
  }

  if (cfg->drop_p32) {
    const __u64 index = __sync_fetch_and_add(&lab_packet_index, 1);
    if ((__u32)(splitmix64(cfg->seed ^ splitmix64(index)) >> 32) < cfg->drop_p32) {
      st->dropped += segs;
      struct dropped_walk w = {.skb = skb, .st = st};
      w.bth_off = (__u32)((void*)(udp + 1) - data);
      w.payload = skb->len > w.bth_off ? skb->len - w.bth_off : 0;
      w.seg_payload = segs > 1 && skb->gso_size ? skb->gso_size : w.payload;
      if (w.seg_payload) bpf_loop(64, record_dropped_segment, &w, 0);
      return TC_ACT_SHOT;
    }
  }

  if (ecn == 3) st->ce_arrived += segs;
  if (cfg->vq_rate_bytes_per_s && vq_enqueue(vq, cfg->vq_rate_bytes_per_s, skb->len) > cfg->mark_threshold) {
    if (ecn == 0)
      st->not_ect += segs;
    else if (ecn != 3 && bpf_skb_ecn_set_ce(skb))
      st->ce_marked += segs;
  }
  return TC_ACT_OK;
}
