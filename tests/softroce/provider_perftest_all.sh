#!/usr/bin/env bash
# ctest (label softroce): every perftest program a verbs user reaches for - ib_write_bw, ib_send_bw,
# ib_read_bw (the provider as responder) and ib_write_lat at every size of -a (2 B .. 8 MiB), ib_atomic_bw with fetch-and-add and
# compare-and-swap - unmodified on rfab's user-space verbs provider on the host side of the lab bridge,
# against the same program on Linux rdma_rxe in a guest, the provider as client and as server. The bridge
# is captured and `rfab decode --verify-icrc` must accept every RoCE packet of both stacks.
# Usage: provider_perftest_all.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
command -v ib_atomic_bw >/dev/null || { echo "SKIP: perftest missing (scripts/install-deps.sh installs it)"; exit 77; }
"$SRC/tools/softroce-lab/lab.sh" -n 1 -T 600 -w "$WORK/lab" -c "$WORK/bridge.pcap" \
  -t "$SRC/tests/softroce/guest/perftest_all.sh" -f "$SRC/tests/softroce/guest/gid.sh" \
  -f "$SRC/tests/softroce/guest/perftest_all_steps.sh" -b "$(command -v ib_atomic_bw)" -H "$SRC/tests/softroce/host/provider_perftest_all.sh" \
  | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] perftest-all: PASS" "perftest on rxe"
expect_pass "$WORK/lab.log" "\[host\] provider-perftest-all: PASS" "perftest on the provider"
echo "== rfab decode --verify-icrc $WORK/bridge.pcap"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"   # exits 1 on any malformed packet or bad ICRC
expect_opcodes "$WORK/bridge.pcap" RC_RDMA_WRITE_FIRST RC_RDMA_WRITE_MIDDLE RC_RDMA_WRITE_LAST RC_SEND_FIRST \
  RC_SEND_LAST RC_RDMA_READ_REQUEST RC_RDMA_READ_RESPONSE_MIDDLE RC_FETCH_ADD RC_COMPARE_SWAP RC_ATOMIC_ACKNOWLEDGE
rm -f "$WORK/bridge.pcap"  # about a gigabyte; a failed run keeps it
echo "PASS"
