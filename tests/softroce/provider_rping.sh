#!/usr/bin/env bash
# ctest (label softroce): Debian's unmodified rping on rfab's user-space verbs provider (librfab-verbs.so,
# via `rfab softroce shell`) on the host side of the lab bridge, against rping on Linux rdma_rxe in a
# guest, the provider as client and then as server: its rdma_cm speaks IB CM MADs on QP1 to the guest
# kernel's (REQ/REP/RTU, REJ, DREQ/DREP), and ten pings are verified each way (-C 10 -v -V). The bridge
# is captured and `rfab decode --verify-icrc` must accept every packet of both stacks, the CM MADs
# included.
# Usage: provider_rping.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
command -v rping >/dev/null || { echo "SKIP: rping missing (rdmacm-utils; scripts/install-deps.sh installs it)"; exit 77; }
LIBGCC=$(ldconfig -p | sed -n 's/.*libgcc_s.so.1 (libc6,x86-64) => //p' | head -1)
[ -n "$LIBGCC" ] || { echo "SKIP: libgcc_s.so.1 not found for the guest's rping"; exit 77; }
"$SRC/tools/softroce-lab/lab.sh" -n 1 -T 300 -w "$WORK/lab" -c "$WORK/bridge.pcap" \
  -t "$SRC/tests/softroce/guest/rping_rxe.sh" -b "$(command -v rping)" -f "$LIBGCC" \
  -H "$SRC/tests/softroce/host/provider_rping.sh" | tee "$WORK/lab.log"
expect_pass "$WORK/lab.log" "\[g0\] rping-server: 10 pings verified, PASS" "rping -s on rxe"
expect_pass "$WORK/lab.log" "\[g0\] rping-client: 10 pings verified, PASS" "rping -c on rxe"
expect_pass "$WORK/lab.log" "\[host\] provider-rping: PASS" "rping -c on the provider"
echo "== rfab decode --verify-icrc $WORK/bridge.pcap"
"$RFAB" decode --verify-icrc -q "$WORK/bridge.pcap"   # exits 1 on any malformed packet or bad ICRC
expect_opcodes "$WORK/bridge.pcap" UD_SEND_ONLY RC_SEND_ONLY RC_RDMA_READ_REQUEST RC_RDMA_WRITE_ONLY RC_ACKNOWLEDGE
echo "PASS"
