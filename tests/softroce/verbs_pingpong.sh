#!/usr/bin/env bash
# ctest (label softroce): rfab's libibverbs RC driver between two rxe guests: SEND ping-pong, RDMA WRITE and
# RDMA READ with every byte verified (tests/softroce/verbs_pingpong.cpp), traffic captured and ICRC-checked.
# Usage: verbs_pingpong.sh RFAB_BINARY WORKDIR PINGPONG_BINARY        Exit 77 (skipped) when the lab cannot run.
set -euo pipefail
RFAB=$1 WORK=$2 PINGPONG=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_preflight
rm -rf "$WORK"; mkdir -p "$WORK"
"$SRC/tools/softroce-lab/lab.sh" -n 2 -T 200 -w "$WORK/lab" -c "$WORK/bridge.pcap" -b "$PINGPONG" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/verbs_pingpong.sh" | tee "$WORK/lab.log"
grep -q "\[g0\] verbs pingpong: PASS" "$WORK/lab.log" || { echo "FAIL: server did not pass"; exit 1; }
grep -q "\[g1\] verbs pingpong: PASS" "$WORK/lab.log" || { echo "FAIL: client did not pass"; exit 1; }
grep -q "\[g1\] \[pass\] peer 10.77.0.1 rdma_cm" "$WORK/lab.log" || { echo "FAIL: doctor's rdma_cm probe g1 -> g0"; exit 1; }
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"
for op in RC_SEND_ONLY RC_RDMA_WRITE_FIRST RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_LAST RC_SEND_ONLY_WITH_IMMEDIATE; do
  n=$("$RFAB" decode --opcode "$op" "$WORK/bridge.pcap" | grep -c "$op" || true)
  [ "$n" -gt 0 ] || { echo "FAIL: no $op from the verbs driver on the wire"; exit 1; }
done
echo "PASS"
