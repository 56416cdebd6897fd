#!/usr/bin/env bash
# ctest (label softroce): the lab tells an emulator stall from a test failure. With lab.sh's -W hook the
# first boot of the guest wedges, once as the virtio NIC's transmit watchdog line and once as a boot that
# never reports; each time the lab must say so, boot again, and pass on the second boot. A run that wedges
# twice must fail saying so.
# Usage: lab_wedge.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
lab_setup "$@"
LAB="$SRC/tools/softroce-lab/lab.sh"
for kind in watchdog silent; do
  echo "== first boot wedged: $kind"
  rc=0
  "$LAB" -n 1 -T 120 -B 30 -W "$kind" -w "$WORK/$kind" -t "$SRC/tests/softroce/guest/lab_wedge.sh" \
    | tee "$WORK/$kind.log" || rc=$?
  [ "$rc" -eq 0 ] || { echo "FAIL: the lab exited $rc instead of booting again"; exit 1; }
  expect_pass "$WORK/$kind.log" "booting again (attempt 2 of 2)" "the lab did not say it booted again ($kind)"
  expect_pass "$WORK/$kind.log" "\[g0\] lab-wedge: PASS" "the guest did not run on the second boot ($kind)"
done
echo "PASS"
