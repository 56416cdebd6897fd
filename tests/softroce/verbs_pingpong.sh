#!/usr/bin/env bash
# ctest (label softroce): rfab's libibverbs RC driver between two rxe guests: SEND ping-pong, RDMA WRITE and
# RDMA READ with every byte verified (tests/softroce/verbs_pingpong.cpp), traffic captured and ICRC-checked.
# Usage: verbs_pingpong.sh RFAB_BINARY WORKDIR PINGPONG_BINARY        Exit 77 (skipped) when the lab cannot run.
set -euo pipefail
PINGPONG=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$1" "$2"
"$SRC/tools/softroce-lab/lab.sh" -n 2 -T 200 -w "$WORK/lab" -c "$WORK/bridge.pcap" -b "$PINGPONG" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/verbs_pingpong.sh" | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] verbs pingpong: PASS" "server did not pass"
expect_pass "$WORK/lab.log" "\[g1\] verbs pingpong: PASS" "client did not pass"
expect_pass "$WORK/lab.log" "\[g1\] \[pass\] peer 10.77.0.1 rdma_cm" "doctor's rdma_cm probe g1 -> g0"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"
expect_opcodes "$WORK/bridge.pcap" RC_SEND_ONLY RC_RDMA_WRITE_FIRST RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_LAST \
  RC_SEND_ONLY_WITH_IMMEDIATE
echo "PASS"
