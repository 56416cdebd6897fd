#!/usr/bin/env bash
# Bandwidth of libnccl-net-rfab.so next to `rfab perf write`, on one veth pair between two network
# namespaces (MTU 9000, RoCE MTU 4096), in one run. The plugin is driven by nccl_net_harness --bench: rank 0
# isends, rank 1 irecvs, WINDOW requests outstanding, one message per irecv, no verification (the system
# tests verify); GB/s is message bytes over the time from the first post to the last completion.
# `rfab perf write` is one RC QP writing the same message size for DURATION seconds.
#
#   plugins/nccl_net/scripts/bench-netns.sh [build dir]   (root; env: SIZES="64K 512K 1M 4M 16M 64M",
#                                                          WINDOW=8, DURATION=3)
set -euo pipefail

BUILD=${1:-$(dirname "$0")/../../../build/release}
SIZES=${SIZES:-"64K 512K 1M 4M 16M 64M"}
WINDOW=${WINDOW:-8}
DURATION=${DURATION:-3}
HARNESS=$BUILD/plugins/nccl_net/nccl_net_harness
PLUGIN=$BUILD/plugins/nccl_net/libnccl-net-rfab.so
RFAB=$BUILD/cli/rfab
[ "$(id -u)" -eq 0 ] || { echo "bench-netns: needs root (network namespaces)" >&2; exit 2; }
for f in "$HARNESS" "$PLUGIN" "$RFAB"; do [ -e "$f" ] || { echo "bench-netns: $f is missing (build it)" >&2; exit 2; }; done

source "$(dirname "$0")/../../../scripts/lib/netns-pair.sh"
A="rfn$$-a"; B="rfn$$-b"; IPA=10.78.1.1; IPB=10.78.1.2
TMP=$(mktemp -d)
cleanup() {
  netns_remove "$A" "$B"
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
netns_pair_up "$A" "$B" 10.78.1

bytes() { numfmt --from=iec "$1"; }
printf " veth pair, MTU 9000, %s cores, window %s\n" "$(nproc)" "$WINDOW"
printf " %-8s %14s %14s %10s\n" "#bytes" "plugin[GB/s]" "perf[GB/s]" "ratio"
for size in $SIZES; do
  n=$(bytes "$size")
  iters=$(( n >= 16777216 ? 16 : n >= 1048576 ? 64 : 512 ))
  rm -f "$TMP"/h*
  ip netns exec "$A" env RFAB_NCCL_IFACE="=$A" RFAB_NCCL_TRANSPORT=udp "$HARNESS" --plugin "$PLUGIN" --bench \
    --rank 0 --handle-out "$TMP/ha" --handle-in "$TMP/hb" --sizes "$size" --iters $iters --recvs 1 --window "$WINDOW" \
    > "$TMP/a.log" 2>&1 & PA=$!
  ip netns exec "$B" env RFAB_NCCL_IFACE="=$B" RFAB_NCCL_TRANSPORT=udp "$HARNESS" --plugin "$PLUGIN" --bench \
    --rank 1 --handle-out "$TMP/hb" --handle-in "$TMP/ha" --sizes "$size" --iters $iters --recvs 1 --window "$WINDOW" \
    > "$TMP/b.log" 2>&1 || { cat "$TMP/b.log" >&2; exit 1; }
  wait $PA || { cat "$TMP/a.log" >&2; exit 1; }
  plugin=$(python3 -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]["GBps"])' "$TMP/b.log")
  ip netns exec "$A" "$RFAB" perf write --server --json > "$TMP/srv.json" 2>/dev/null & SRV=$!
  ip netns exec "$B" "$RFAB" perf write $IPA --json -s "$size" -q 1 -m 4096 -D "$DURATION" > "$TMP/cli.json" 2>/dev/null
  wait $SRV || true
  perf=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["bw_avg_gbps"] / 8)' "$TMP/cli.json")
  printf " %-8s %14.2f %14.2f %10.2f\n" "$size" "$plugin" "$perf" "$(python3 -c "print($plugin/$perf)")"
done
