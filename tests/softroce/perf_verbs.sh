#!/usr/bin/env bash
# ctest (label softroce): `rfab perf --verbs` (rfab's libibverbs RC driver) between two rxe guests: WRITE,
# SEND, READ between two rfab peers with their data checks, and rfab's verbs client against ib_write_bw; the
# bridge capture must verify with `rfab decode --verify-icrc`.
# Usage: perf_verbs.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
RFAB=$1 WORK=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_preflight
rm -rf "$WORK"; mkdir -p "$WORK"
"$SRC/tools/softroce-lab/lab.sh" -n 2 -T 300 -w "$WORK/lab" -c "$WORK/bridge.pcap" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/perf_verbs.sh" -f "$SRC/tests/softroce/guest/gid.sh" | tee "$WORK/lab.log"
grep -q "\[g0\] perf-verbs: PASS" "$WORK/lab.log" || { echo "FAIL: server side"; exit 1; }
grep -q "\[g1\] perf-verbs: PASS" "$WORK/lab.log" || { echo "FAIL: client side"; exit 1; }
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"
for op in RC_RDMA_WRITE_FIRST RC_SEND_FIRST RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_LAST; do
  n=$("$RFAB" decode --opcode "$op" "$WORK/bridge.pcap" | grep -c "$op" || true)
  [ "$n" -gt 0 ] || { echo "FAIL: no $op on the wire"; exit 1; }
done
echo "PASS"
