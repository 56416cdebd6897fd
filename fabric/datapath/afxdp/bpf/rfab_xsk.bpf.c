// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Steers RoCE v2 for this host to the AF_XDP sockets of rfab's AF_XDP datapath: IPv4 or IPv6 UDP to the
 * RoCE port and to the one local address the datapath serves goes to the socket of the receive queue it
 * arrived on; everything else (ARP, ICMP, the TCP side channel, other UDP) goes on to the kernel. A queue
 * without a socket passes its packets to the kernel too (bpf_redirect_map's fallback). */
#include <linux/bpf.h>
#include <linux/if_ether.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load (.rodata: the verifier sees constants). Addresses in network order. */
const volatile __u16 rfab_roce_port = 4791;
const volatile __u8 rfab_v6 = 0;
const volatile __u32 rfab_ipv4 = 0;
const volatile __u32 rfab_ipv6[4] = {0, 0, 0, 0};

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} rfab_xsks SEC(".maps");

/* [0] frames steered to a socket, [1] frames passed to the kernel */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u64);
} rfab_xsk_counts SEC(".maps");

static __always_inline int pass(void) {
  __u32 k = 1;
  __u64 *c = bpf_map_lookup_elem(&rfab_xsk_counts, &k);
  if (c) *c += 1;
  return XDP_PASS;
}

SEC("xdp")
int rfab_xsk_redirect(struct xdp_md *ctx) {
  const __u8 *data = (const __u8 *)(long)ctx->data;
  const __u8 *end = (const __u8 *)(long)ctx->data_end;
  if (data + 14 > end) return pass();
  const __u16 type = *(const __u16 *)(data + 12);
  const __u8 *udp;
  if (!rfab_v6 && type == bpf_htons(ETH_P_IP)) {
    const __u8 *ip = data + 14;
    if (ip + 20 + 8 > end) return pass();
    /* IHL 5 (RoCE v2 sends no options), UDP, not a fragment, to our address */
    if (ip[0] != 0x45 || ip[9] != 17) return pass();
    if ((*(const __u16 *)(ip + 6) & bpf_htons(0x3FFF)) != 0) return pass();
    if (*(const __u32 *)(ip + 16) != rfab_ipv4) return pass();
    udp = ip + 20;
  } else if (rfab_v6 && type == bpf_htons(ETH_P_IPV6)) {
    const __u8 *ip = data + 14;
    if (ip + 40 + 8 > end) return pass();
    if (ip[6] != 17) return pass();
    const __u32 *dst = (const __u32 *)(ip + 24);
    if (dst[0] != rfab_ipv6[0] || dst[1] != rfab_ipv6[1] || dst[2] != rfab_ipv6[2] || dst[3] != rfab_ipv6[3])
      return pass();
    udp = ip + 40;
  } else {
    return pass();
  }
  if (*(const __u16 *)(udp + 2) != bpf_htons(rfab_roce_port)) return pass();
  __u32 k = 0;
  __u64 *c = bpf_map_lookup_elem(&rfab_xsk_counts, &k);
  if (c) *c += 1;
  return bpf_redirect_map(&rfab_xsks, ctx->rx_queue_index, XDP_PASS);
}
