#!/usr/bin/env bash
# ctest (label softroce): unmodified perftest on rfab's user-space verbs provider (librfab-verbs.so, via
# `rfab softroce shell`) on the host side of the lab bridge, against perftest on Linux rdma_rxe in a guest:
# ib_write_bw, ib_send_bw, ib_read_bw with the provider as client and as server. The bridge is captured and
# `rfab decode --verify-icrc` must accept every RoCE packet of both stacks.
# Usage: provider_rxe.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
command -v ib_write_bw >/dev/null || { echo "SKIP: perftest missing (scripts/install-deps.sh installs it)"; exit 77; }
"$SRC/tools/softroce-lab/lab.sh" -n 1 -T 300 -w "$WORK/lab" -c "$WORK/bridge.pcap" \
  -t "$SRC/tests/softroce/guest/perftest_udp.sh" -f "$SRC/tests/softroce/guest/gid.sh" \
  -f "$SRC/tests/softroce/guest/perftest_udp_steps.sh" -H "$SRC/tests/softroce/host/provider_rxe.sh" \
  | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] perftest-udp: PASS" "perftest on rxe"
expect_pass "$WORK/lab.log" "\[host\] provider-rxe: PASS" "perftest on the provider"
echo "== rfab decode --verify-icrc $WORK/bridge.pcap"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"   # exits 1 on any malformed packet or bad ICRC
expect_opcodes "$WORK/bridge.pcap" RC_RDMA_WRITE_FIRST RC_RDMA_WRITE_ONLY RC_SEND_FIRST RC_SEND_LAST \
  RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_FIRST RC_RDMA_READ_RESPONSE_LAST RC_ACKNOWLEDGE
echo "PASS"
