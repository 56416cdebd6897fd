#!/usr/bin/env bash
# ctest (label softroce): `rfab softroce up/down/status` and `rfab doctor` inside an rxe guest (one guest
# booted without rxe0), then both on the test host (which must then report the absence of RDMA cleanly).
# Usage: doctor_softroce.sh RFAB_BINARY WORKDIR        Exit 77 (skipped) when the lab cannot run here.
set -euo pipefail
RFAB=$1 WORK=$2
SRC=$(cd "$(dirname "$0")/../.." && pwd)
source "$SRC/tests/softroce/common.sh"
rm -rf "$WORK"; mkdir -p "$WORK"

echo "== on this host"
rc=0; "$RFAB" doctor > "$WORK/host-doctor" 2>&1 || rc=$?
cat "$WORK/host-doctor"
grep -q "^\[pass\] user-space RoCE loopback" "$WORK/host-doctor" || { echo "FAIL: host loopback check"; exit 1; }
if [ ! -d /sys/class/infiniband ]; then
  [ $rc = 0 ] || { echo "FAIL: host doctor exit $rc (no RDMA here: only warnings expected)"; exit 1; }
  rc=0; "$RFAB" softroce up lo > "$WORK/host-up" 2>&1 || rc=$?
  cat "$WORK/host-up"
  [ $rc = 1 ] || { echo "FAIL: softroce up on a kernel without RDMA: expected exit 1, got $rc"; exit 1; }
  grep -q "no RDMA netlink\|no 'rxe' link type" "$WORK/host-up" || { echo "FAIL: unclear message"; exit 1; }
fi

lab_preflight
echo "== in an rxe guest"
"$SRC/tools/softroce-lab/lab.sh" -n 1 -R -T 180 -w "$WORK/lab" -b "$RFAB" \
  -t "$SRC/tests/softroce/guest/doctor_softroce.sh" | tee "$WORK/lab.log"
grep -q "\[g0\] doctor/softroce: PASS" "$WORK/lab.log" || { echo "FAIL"; exit 1; }
echo "PASS"
