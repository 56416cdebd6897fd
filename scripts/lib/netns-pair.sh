# shellcheck shell=bash
# Two "hosts" on one machine: network namespaces joined by a veth pair, for the demo, the benchmarks and the
# script-driven tests (sourced). Traffic between them stays on the veth.

# netns_pair_up NS_A NS_B NET [MTU]: creates namespaces NS_A and NS_B joined by a veth pair whose ends are
# named after their namespaces, loopback up, MTU (default 9000), addresses NET.1/24 (NS_A) and NET.2/24 (NS_B).
netns_pair_up() {
  local a=$1 b=$2 net=$3 mtu=${4:-9000}
  ip netns add "$a"
  ip netns add "$b"
  ip link add "$a" netns "$a" type veth peer name "$b" netns "$b"
  ip -n "$a" link set lo up
  ip -n "$b" link set lo up
  ip -n "$a" link set "$a" mtu "$mtu" up
  ip -n "$b" link set "$b" mtu "$mtu" up
  ip -n "$a" addr add "$net.1/24" dev "$a"
  ip -n "$b" addr add "$net.2/24" dev "$b"
}

# netns_remove NS...: kills whatever still runs in each namespace and deletes it; quiet when it is gone.
netns_remove() {
  local ns
  for ns in "$@"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
