#!/usr/bin/env bash
# ib_write_bw (Debian's perftest, unmodified) on rfab's verbs provider against `rfab perf write` on the
# engine it runs on, alternating on one veth pair between two namespaces (MTU 1500, RoCE MTU 1024), 64 KiB
# x 20000, five pairs; prints both BW averages (Gb/s) per pair. Needs root. BUILD=build/release.
set -u
cd "$(dirname "$0")/.."
source scripts/lib/netns-pair.sh
A=pva$$ B=pvb$$
trap 'netns_remove $A $B' EXIT
netns_pair_up $A $B 10.98.7 1500
BUILD=${BUILD:-build/release}
R=$BUILD/cli/rfab LIB=$BUILD/lib/librfab-verbs.so
for run in 1 2 3 4 5; do
  ip netns exec $B $R perf write --server -m 1024 >/dev/null 2>&1 & sp=$!; sleep 0.5
  e=$(ip netns exec $A $R perf write -m 1024 -s 64K -n 20000 10.98.7.2 2>&1 | awk '$1==65536{print $4}'); wait $sp
  ip netns exec $B env LD_PRELOAD=$LIB RFAB_VERBS_IFACE=$B ib_write_bw -F --report_gbits -s 65536 -n 20000 >/dev/null 2>&1 & sp=$!; sleep 0.8
  p=$(ip netns exec $A env LD_PRELOAD=$LIB RFAB_VERBS_IFACE=$A ib_write_bw -F --report_gbits -s 65536 -n 20000 10.98.7.2 2>&1 | awk '$1==65536{print $4}'); wait $sp
  echo "run $run: rfab perf write $e | ib_write_bw on provider $p Gb/s"
done
