#!/usr/bin/env bash
# The two-path fabric lab (docs/fabric-lab.md): hosts A and B and a router R in network namespaces.
#
#   A (10.90.255.1 on lo) ==a0== path 0 ==r0== R ==rb==== b0== B (10.90.2.2)
#                         ==a1== path 1 ==r1==
#
# A reaches B over a multipath route across a0 and a1 with fib_multipath_hash_policy=1 (L4 hash: the UDP
# source port picks the path); R reaches A the same way, so ACKs may come back over either path. Every link
# has MTU 9000. A's and B's veths do not segment UDP GSO in the driver (the kernel segments in software
# before a packet enters a link), so every skb crossing a path is one wire packet. Each path has
# - a switch-port model (rfab-lab-port) on R's ingress of the path (A->R, "fwd": virtual-queue ECN
#   marking, seeded drops, counters) and a counting one on R's egress of the path (R->A, "rev");
# - optionally a tbf bottleneck on A's egress of the path (`shape`): rate, burst and queue limit.
#
# Usage: scripts/twopath-fabric.sh [--name N] [--lab-port PATH] COMMAND [options]
#   up                         create the fabric (fails if namespaces N-a, N-r, N-b exist)
#   down                       remove it (also after a partial `up`); nothing left behind
#   status                     namespaces, routes, qdiscs, port programs
#   shape --path K --rate R [--burst B] [--limit L]
#                              tbf on A's egress of path K (tc units; defaults burst 64k, limit 4m)
#   unshape --path K           remove the tbf
#   port --path K [--dir fwd|rev|enq] [--reset] [--vq-rate R|off] [--mark-threshold B] [--drop P] [--seed S]
#                              change the switch-port knobs (--reset: fresh instance, counters at 0);
#                              --dir enq: a port model on A's egress of the path, in front of its tbf,
#                              so the virtual queue sees packets as they join the queue (attach with --reset)
#   stats [--json]             per path: port counters (both directions), tbf and link statistics
#   exec a|r|b CMD...          run CMD in host A, router R or host B
#   demo                       up, `rfab perf write` runs (sprayed; path 0 rate-limited; path 0 marking
#                              ECN, with and without DCQCN; a shallow lossy queue; fixed-port ECMP against
#                              the adaptive spray on a congested path) with per-path counters, down
# Defaults: --name twopath, --lab-port $RFAB_LAB_PORT or build/release/tools/fabric-lab/rfab-lab-port,
# rfab for `demo`: $RFAB or build/release/cli/rfab.
# Addresses: A 10.90.255.1, B 10.90.2.2; path K: A 10.90.K.1 <-> R 10.90.K.2; R 10.90.2.1 <-> B 10.90.2.2.
set -euo pipefail

NAME=twopath
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAB_PORT="${RFAB_LAB_PORT:-$REPO/build/release/tools/fabric-lab/rfab-lab-port}"
MTU=9000
A_IP=10.90.255.1
B_IP=10.90.2.2

die() { echo "twopath-fabric: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --name) NAME="${2:?--name needs a value}"; shift 2 ;;
    --lab-port) LAB_PORT="${2:?--lab-port needs a value}"; shift 2 ;;
    -h|--help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || die "no command (up, down, status, shape, unshape, port, stats, exec, demo); see --help"
CMD="$1"; shift
[[ "$NAME" =~ ^[A-Za-z0-9_.-]{1,40}$ ]] || die "--name '$NAME': letters, digits, _ . - only, at most 40"
NS_A="$NAME-a"; NS_R="$NAME-r"; NS_B="$NAME-b"

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, tc, BPF)"; }
need_up() {
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    [ -e "/var/run/netns/$ns" ] || die "fabric '$NAME' is not up (namespace $ns missing); run: $0 --name $NAME up"
  done
}
need_lab_port() { [ -x "$LAB_PORT" ] || die "rfab-lab-port not found at $LAB_PORT (build target rfab-lab-port, or set RFAB_LAB_PORT)"; }
path_arg() {
  case "${1:-}" in 0|1) echo "$1" ;; *) die "--path '${1:-}': expected 0 or 1" ;; esac
}

down() {
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    if [ -e "/var/run/netns/$ns" ]; then
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

up() {
  need_lab_port
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    [ ! -e "/var/run/netns/$ns" ] || die "namespace $ns exists: fabric '$NAME' is already up (run: $0 --name $NAME down)"
  done
  trap 'echo "twopath-fabric: up failed, removing the partial fabric" >&2; down' ERR
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  done
  # Links are created inside the namespaces, so the fixed device names never meet in one namespace.
  ip -n "$NS_A" link add a0 type veth peer name r0 netns "$NS_R"
  ip -n "$NS_A" link add a1 type veth peer name r1 netns "$NS_R"
  ip -n "$NS_R" link add rb type veth peer name b0 netns "$NS_B"
  for pair in "$NS_A a0" "$NS_A a1" "$NS_R r0" "$NS_R r1" "$NS_R rb" "$NS_B b0"; do
    set -- $pair
    ip -n "$1" link set "$2" mtu "$MTU" up
  done
  for dev in a0 a1; do ip netns exec "$NS_A" ethtool -K "$dev" tx-udp-segmentation off >/dev/null; done
  ip netns exec "$NS_B" ethtool -K b0 tx-udp-segmentation off >/dev/null
  ip -n "$NS_A" addr add 10.90.0.1/30 dev a0
  ip -n "$NS_A" addr add 10.90.1.1/30 dev a1
  ip -n "$NS_A" addr add "$A_IP/32" dev lo
  ip -n "$NS_R" addr add 10.90.0.2/30 dev r0
  ip -n "$NS_R" addr add 10.90.1.2/30 dev r1
  ip -n "$NS_R" addr add 10.90.2.1/30 dev rb
  ip -n "$NS_B" addr add "$B_IP/30" dev b0
  ip netns exec "$NS_A" sysctl -qw net.ipv4.fib_multipath_hash_policy=1
  ip netns exec "$NS_R" sysctl -qw net.ipv4.fib_multipath_hash_policy=1 net.ipv4.ip_forward=1
  ip -n "$NS_A" route add 10.90.2.0/30 src "$A_IP" \
    nexthop via 10.90.0.2 dev a0 weight 1 nexthop via 10.90.1.2 dev a1 weight 1
  ip -n "$NS_R" route add "$A_IP/32" nexthop via 10.90.0.1 dev r0 weight 1 nexthop via 10.90.1.1 dev r1 weight 1
  ip -n "$NS_B" route add "$A_IP/32" via 10.90.2.1 dev b0
  for k in 0 1; do
    "$LAB_PORT" attach --netns "$NS_R" --dev "r$k" --hook ingress
    "$LAB_PORT" attach --netns "$NS_R" --dev "r$k" --hook egress
  done
  trap - ERR
  echo "fabric '$NAME' up: A=$A_IP (ns $NS_A), R (ns $NS_R), B=$B_IP (ns $NS_B)"
}

shape() {
  local path="" rate="" burst=64k limit=4m
  while [ $# -gt 0 ]; do
    case "$1" in
      --path) path=$(path_arg "${2:-}"); shift 2 ;;
      --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
      --burst) burst="${2:?--burst needs a value}"; shift 2 ;;
      --limit) limit="${2:?--limit needs a value}"; shift 2 ;;
      *) die "shape: unknown option '$1'" ;;
    esac
  done
  [ -n "$path" ] || die "shape: --path 0|1 is required"
  [ -n "$rate" ] || die "shape: --rate is required (e.g. 500mbit)"
  tc -n "$NS_A" qdisc replace dev "a$path" root tbf rate "$rate" burst "$burst" limit "$limit" ||
    die "shape: tc rejected rate '$rate' burst '$burst' limit '$limit'"
}

unshape() {
  local path=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --path) path=$(path_arg "${2:-}"); shift 2 ;;
      *) die "unshape: unknown option '$1'" ;;
    esac
  done
  [ -n "$path" ] || die "unshape: --path 0|1 is required"
  tc -n "$NS_A" qdisc del dev "a$path" root 2>/dev/null || true
}

port() {
  local path="" hook=ingress verb=set knobs=() ns="$NS_R" dev_side=r
  while [ $# -gt 0 ]; do
    case "$1" in
      --path) path=$(path_arg "${2:-}"); shift 2 ;;
      --dir)
        case "${2:-}" in
          fwd) hook=ingress ;;
          rev) hook=egress ;;
          enq) hook=egress ns="$NS_A" dev_side=a ;;
          *) die "--dir '${2:-}': expected fwd, rev or enq" ;;
        esac
        shift 2 ;;
      --reset) verb=attach; shift ;;
      --vq-rate|--mark-threshold|--drop|--seed|--roce-port) knobs+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
      *) die "port: unknown option '$1'" ;;
    esac
  done
  [ -n "$path" ] || die "port: --path 0|1 is required"
  "$LAB_PORT" "$verb" --netns "$ns" --dev "$dev_side$path" --hook "$hook" "${knobs[@]}"
}

stats() {
  local json=0
  [ "${1:-}" = "--json" ] && json=1
  for k in 0 1; do
    if [ $json -eq 1 ]; then
      jq -c -n --argjson path "$k" \
        --argjson fwd "$("$LAB_PORT" show --netns "$NS_R" --dev "r$k" --hook ingress --json)" \
        --argjson rev "$("$LAB_PORT" show --netns "$NS_R" --dev "r$k" --hook egress --json)" \
        --argjson qdisc "$(tc -n "$NS_A" -s -j qdisc show dev "a$k")" \
        --argjson link "$(ip -n "$NS_A" -s -j link show dev "a$k")" \
        '{path: $path, fwd: $fwd, rev: $rev, a_qdisc: $qdisc, a_link: $link[0].stats64}'
    else
      echo "== path $k: A->R (R's r$k ingress)"
      "$LAB_PORT" show --netns "$NS_R" --dev "r$k" --hook ingress | sed 's/^/  /'
      echo "== path $k: R->A (R's r$k egress)"
      "$LAB_PORT" show --netns "$NS_R" --dev "r$k" --hook egress | sed 's/^/  /'
      echo "== path $k: A's a$k qdisc"
      tc -n "$NS_A" -s qdisc show dev "a$k" | sed 's/^/  /'
    fi
  done
}

status() {
  for ns in "$NS_A" "$NS_R" "$NS_B"; do
    if [ -e "/var/run/netns/$ns" ]; then echo "namespace $ns: present"; else echo "namespace $ns: missing"; fi
  done
  need_up
  echo "A's routes:"; ip -n "$NS_A" route | sed 's/^/  /'
  echo "R's routes:"; ip -n "$NS_R" route | sed 's/^/  /'
  for k in 0 1; do
    echo "path $k: A's a$k qdisc: $(tc -n "$NS_A" qdisc show dev "a$k" | head -1)"
    echo "path $k: R's r$k filters: $(tc -n "$NS_R" filter show dev "r$k" ingress | grep -o 'lab_port[^ ]*' | head -1) (ingress)" \
         "$(tc -n "$NS_R" filter show dev "r$k" egress | grep -o 'lab_port[^ ]*' | head -1) (egress)"
  done
}

# One `rfab perf write` A -> B with ARGS, then one line per path from the A->R port counters.
demo_run() {
  local rfab="$1"; shift
  ip netns exec "$NS_B" "$rfab" perf write --server --json > "$DEMO_DIR/server.json" 2>&1 &
  local server=$!
  ip netns exec "$NS_A" "$rfab" perf write "$B_IP" --json "$@" > "$DEMO_DIR/client.json" 2>&1 || true
  wait "$server" || true
  jq -r '"  rfab perf: verified=\(.verified) \(.bw_avg_gbps*100|round/100) Gb/s, \(.tx_packets) packets, retransmits \(.retransmits) (\(.recovery)); congestion control \(.cc): CNPs \(.cnps_received) (\(.cnps_steered) steered around), rate cuts \(.rate_cuts), lowest rate \(.min_rate_gbps*100|round/100) Gb/s"' \
    "$DEMO_DIR/client.json" 2>/dev/null || cat "$DEMO_DIR/client.json"
  jq -r '"  receiver: out-of-order placements \(.out_of_order)"' "$DEMO_DIR/server.json" 2>/dev/null || cat "$DEMO_DIR/server.json"
  for k in 0 1; do
    "$LAB_PORT" show --netns "$NS_R" --dev "r$k" --json | jq -r --arg q "$(tc -n "$NS_A" -s -j qdisc show dev "a$k" |
      jq -r '.[0] | "\(.kind) drops \(.drops)"')" \
      '"  path \(.dev[1:]): \(.stats.roce_packets) RoCE packets on \(.sport_packets|length) source ports, CE marked \(.stats.ce_marked), dropped \(.stats.dropped); A-side qdisc \($q)"'
  done
}

demo() {
  local rfab="${RFAB:-$REPO/build/release/cli/rfab}"
  [ -x "$rfab" ] || die "demo: rfab not found at $rfab (build it, or set RFAB)"
  DEMO_DIR=$(mktemp -d /tmp/rfab-twopath-demo.XXXXXX)
  trap 'down; rm -rf "$DEMO_DIR"' EXIT
  trap 'exit 130' INT TERM
  up
  echo "-- 2 QPs x 8 entropies sprayed over both paths (16 UDP source ports, L4 multipath hash)"
  demo_run "$rfab" -s 256K -n 100 -q 2 --spray 8
  for k in 0 1; do port --path "$k" --reset; done
  echo "-- path 0 a 500 Mbit/s bottleneck with a 4 MB queue: sprayed packets overtake each other, nothing lost"
  shape --path 0 --rate 500mbit --burst 64k --limit 4m
  demo_run "$rfab" -s 256K -n 50 -q 2 --spray 8
  unshape --path 0
  for k in 0 1; do port --path "$k" --reset; done
  echo "-- path 0 marks ECN-CE above 32 KB in a 1 Gbit/s virtual queue"
  port --path 0 --vq-rate 1gbit --mark-threshold 32k
  demo_run "$rfab" -s 256K -n 100 -q 2 --spray 8
  echo "-- the same with DCQCN on the sender (from 25G): CNPs come back and the rate is cut"
  for k in 0 1; do port --path "$k" --reset; done
  port --path 0 --vq-rate 1gbit --mark-threshold 32k
  demo_run "$rfab" -s 256K -n 100 -q 2 --spray 8 --cc dcqcn --line-rate 25G
  for k in 0 1; do port --path "$k" --reset; done
  echo "-- a shallow queue (300 Mbit/s, 40 KB) on path 0 drops sprayed packets: go-back-N, then selective recovery"
  shape --path 0 --rate 300mbit --burst 16k --limit 40k
  demo_run "$rfab" -s 256K -n 20 -q 2 --spray 8 --recovery go-back-n --ack-timeout 12
  for k in 0 1; do port --path "$k" --reset; done
  demo_run "$rfab" -s 256K -n 20 -q 2 --spray 8 --ack-timeout 12
  unshape --path 0
  for k in 0 1; do port --path "$k" --reset; done
  echo "-- path 0 congested (500 Mbit/s, marking from 400 Mbit/s), 8 QPs: fixed-port ECMP, then the adaptive spray with DCQCN"
  shape --path 0 --rate 500mbit --burst 64k --limit 4m
  port --path 0 --vq-rate 400mbit --mark-threshold 32k
  demo_run "$rfab" -s 256K -n 50 -q 8
  for k in 0 1; do port --path "$k" --reset; done
  port --path 0 --vq-rate 400mbit --mark-threshold 32k
  demo_run "$rfab" -s 256K -n 50 -q 8 --spray 8 --adaptive --cc dcqcn --line-rate 10G
  unshape --path 0
}

case "$CMD" in
  up) need_root; up ;;
  demo) need_root; need_lab_port; demo ;;
  down) need_root; down ;;
  status) need_root; status ;;
  shape) need_root; need_up; shape "$@" ;;
  unshape) need_root; need_up; unshape "$@" ;;
  port) need_root; need_up; need_lab_port; port "$@" ;;
  stats) need_root; need_up; need_lab_port; stats "$@" ;;
  exec)
    need_root; need_up
    case "${1:-}" in a) ns=$NS_A ;; r) ns=$NS_R ;; b) ns=$NS_B ;; *) die "exec: host a, r or b" ;; esac
    shift; [ $# -gt 0 ] || die "exec: no command"
    exec ip netns exec "$ns" "$@" ;;
  *) die "unknown command '$CMD' (up, down, status, shape, unshape, port, stats, exec, demo)" ;;
esac
