#!/usr/bin/env bash
# ctest (label softroce): `rfab perf --verbs` (rfab's libibverbs RC driver) between two rxe guests: WRITE,
# SEND, READ between two rfab peers with their data checks, and rfab's verbs client against ib_write_bw; the
# bridge capture must verify with `rfab decode --verify-icrc`.
# Usage: perf_verbs.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
"$SRC/tools/softroce-lab/lab.sh" -n 2 -T 300 -w "$WORK/lab" -c "$WORK/bridge.pcap" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/perf_verbs.sh" -f "$SRC/tests/softroce/guest/gid.sh" | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] perf-verbs: PASS" "server side"
expect_pass "$WORK/lab.log" "\[g1\] perf-verbs: PASS" "client side"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"
expect_opcodes "$WORK/bridge.pcap" RC_RDMA_WRITE_FIRST RC_SEND_FIRST RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_LAST
echo "PASS"
