#!/usr/bin/env bash
# ctest (label softroce): a two-rank `rfab coll allreduce` across two RoCE stacks: rank 0 on the host side of
# the lab bridge with rfab's user-space RoCE (kernel-UDP datapath), rank 1 in a guest on Linux rxe through
# libibverbs (the collectives' verbs provider). Both ranks validate (-c 1); the bridge capture must decode
# and verify every ICRC with `rfab decode --verify-icrc`.
# Usage: coll_mixed.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
"$SRC/tools/softroce-lab/lab.sh" -n 1 -T 240 -w "$WORK/lab" -c "$WORK/bridge.pcap" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/coll_allreduce.sh" -f "$SRC/tests/softroce/guest/coll_allreduce_args.sh" \
  -H "$SRC/tests/softroce/host/coll_allreduce.sh" | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] coll-mixed: PASS" "rank 1 (verbs, guest)"
expect_pass "$WORK/lab.log" "\[host\] coll-mixed: PASS" "rank 0 (udp, host)"
echo "== rfab decode --verify-icrc $WORK/bridge.pcap"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"   # exits 1 on any malformed packet or bad ICRC
# The transport's protocol on the wire, both ways: data writes, zero-length credit immediates, ACKs.
expect_opcodes "$WORK/bridge.pcap" RC_RDMA_WRITE_FIRST RC_RDMA_WRITE_LAST_WITH_IMMEDIATE \
  RC_RDMA_WRITE_ONLY_WITH_IMMEDIATE RC_ACKNOWLEDGE
echo "PASS"
