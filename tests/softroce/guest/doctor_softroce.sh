# Guest side of the doctor/softroce test (booted with -R: no rxe0 yet; rdma_rxe is loaded). Each step checks
# the exit code and the output; the first failure ends the script with a message saying which step.
fail() { echo "STEP FAILED: $*"; exit 1; }
step() { echo "== $*"; }

step "softroce status: no device yet"
rfab softroce status > /tmp/s 2>&1; rc=$?; cat /tmp/s
[ $rc = 0 ] || fail "status exit $rc"
grep -q "no RDMA device" /tmp/s || fail "status should report no device"
grep -q "rdma_rxe is loaded" /tmp/s || fail "status should see rdma_rxe loaded"

step "doctor without a device: warns, user-space loopback passes, exit 0"
rfab doctor > /tmp/d 2>&1; rc=$?; cat /tmp/d
[ $rc = 0 ] || fail "doctor exit $rc"
grep -q "^\[warn\] rdma devices" /tmp/d || fail "no-device warning missing"
grep -q "^\[pass\] kernel soft-RoCE .*loaded" /tmp/d || fail "kernel soft-RoCE check"
grep -q "^\[pass\] user-space RoCE loopback" /tmp/d || fail "loopback check"

step "softroce up nosuch0: bad interface, exit 2"
rfab softroce up nosuch0 > /tmp/u 2>&1; rc=$?; cat /tmp/u
[ $rc = 2 ] || fail "expected exit 2, got $rc"

step "softroce up eth0"
rfab softroce up eth0 > /tmp/u 2>&1; rc=$?; cat /tmp/u
[ $rc = 0 ] || fail "up exit $rc"
grep -q "rxe0 on eth0: port 1 ACTIVE, RoCE v2 GID index 1" /tmp/u || fail "up output"
rdma link | grep -q "link rxe0/1 state ACTIVE" || fail "iproute2 does not see rxe0"

step "softroce up eth0 again: exists, exit 1"
rfab softroce up eth0 > /tmp/u 2>&1; rc=$?; cat /tmp/u
[ $rc = 1 ] || fail "expected exit 1, got $rc"
grep -q "already exists" /tmp/u || fail "message should say the device exists"

step "doctor with rxe0, peer = ourselves (rxe listens on 4791)"
rfab doctor --peers "$RFAB_LAB_IP" > /tmp/d 2>&1; rc=$?; cat /tmp/d
[ $rc = 0 ] || fail "doctor exit $rc"
grep -q "^\[pass\] port rxe0/1 .*state ACTIVE, physical LinkUp, Ethernet" /tmp/d || fail "port check"
grep -q "^\[pass\] gid rxe0/1 .*use GID index 1 (RoCE v2, $RFAB_LAB_IP)" /tmp/d || fail "gid check"
grep -q "active MTU 1024" /tmp/d || fail "active MTU from libibverbs"
grep -q "^\[pass\] peer $RFAB_LAB_IP udp/4791" /tmp/d || fail "self peer check"
grep -q "^\[pass\] peer $RFAB_LAB_IP rdma_cm .*via rxe0: peer's RDMA stack answered" /tmp/d || fail "self rdma_cm check"

step "doctor --json with the host bridge as peer: nothing on 4791 there, so the check fails and exit is 1"
rfab doctor --json --peers "$RFAB_LAB_PEER" > /tmp/j 2>&1; rc=$?; cat /tmp/j
[ $rc = 1 ] || fail "expected exit 1, got $rc"
grep -q "ICMP port unreachable" /tmp/j || fail "peer failure detail"
grep -q "RoCE packets do not reach an RDMA stack" /tmp/j || fail "rdma_cm failure hint"
grep -q '"ok": false' /tmp/j || fail "json ok flag"

step "perftest runs on the device rfab created (loopback through rxe0)"
( timeout 30 ib_send_bw -d rxe0 -x 1 -n 20 -s 1024 > /tmp/srv 2>&1 & )
sleep 1
timeout 30 ib_send_bw -d rxe0 -x 1 -n 20 -s 1024 "$RFAB_LAB_IP" > /tmp/cli 2>&1 || { cat /tmp/srv /tmp/cli; fail "ib_send_bw on rxe0"; }
grep -A1 "#bytes" /tmp/cli

step "softroce down"
rfab softroce down > /tmp/u 2>&1; rc=$?; cat /tmp/u
[ $rc = 0 ] || fail "down exit $rc"
grep -q "removed rxe0" /tmp/u || fail "down output"
[ -e /sys/class/infiniband/rxe0 ] && fail "rxe0 still in sysfs"
rfab softroce down nosuch > /tmp/u 2>&1; rc=$?; cat /tmp/u
[ $rc = 2 ] || fail "down of a missing device: expected exit 2, got $rc"
echo "doctor/softroce: PASS"
