# Host side of the rping <-> rxe test, run by lab.sh -H in the lab's namespace (this host is 10.77.0.254 on
# the bridge rflbr0, the guest 10.77.0.1 with rdma_rxe). Debian's unmodified rping runs on rfab's verbs
# provider (`rfab softroce shell --iface rflbr0`), whose rdma_cm speaks IB CM MADs to the guest kernel's:
#  1. a port nobody listens on: the kernel's REJ must reach rping as REJECTED, error 8, within 3 s (tried
#     until the guest is up: before that there is no answer at all);
#  2. rping -c -C 10 -v -V against the guest's rping -s: REQ/REP/RTU, ten verified pings, DREQ/DREP, exit 0;
#  3. rping -s -C 10 -v -V for the guest's rping -c: the kernel client's REQ becomes CONNECT_REQUEST, the
#     provider's REP, the client's RTU; ten verified pings, exit 0.
set -u
GUEST=10.77.0.1
SHELL_CMD=("$RFAB" softroce shell --iface rflbr0 --)
rc=0 t0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - t0) / 1000000 )); }

rejected=0
for attempt in $(seq 150); do
  a0=$(date +%s%N)
  timeout 20 "${SHELL_CMD[@]}" rping -c -a "$GUEST" -p 9999 -C 1 > "$RFAB_LAB_WORK/reject.out" 2>&1
  took=$(( ($(date +%s%N) - a0) / 1000000 ))
  if grep -q "RDMA_CM_EVENT_REJECTED, error 8" "$RFAB_LAB_WORK/reject.out"; then
    rejected=1
    break
  fi
  sleep 1
done
cat "$RFAB_LAB_WORK/reject.out"
if [ $rejected = 1 ] && [ "$took" -lt 3000 ]; then
  echo "provider-rping: port without a listener rejected by the guest's CM in $took ms PASS"
else
  echo "provider-rping: port without a listener: no REJECTED, error 8 within 3 s (last try $took ms) FAIL"
  rc=1
fi

out=$RFAB_LAB_WORK/rping-client.out
st=1
for attempt in $(seq 30); do
  timeout 60 "${SHELL_CMD[@]}" rping -c -a "$GUEST" -C 10 -v -V > "$out" 2>&1; st=$?
  [ $st = 0 ] && break
  # The guest's server may not listen yet (REJECTED): try again.
  grep -q "RDMA_CM_EVENT_REJECTED" "$out" || break
  sleep 1
done
cat "$out"
n=$(grep -c "^ping data: rdma-ping-" "$out")
if [ $st = 0 ] && [ "$n" = 10 ]; then
  echo "provider-rping: rping -c on the provider, 10 pings verified, PASS after $(ms) ms"
else
  echo "provider-rping: rping -c on the provider FAIL (exit $st, $n pings)"
  rc=1
fi
out=$RFAB_LAB_WORK/rping-server.out
timeout 90 "${SHELL_CMD[@]}" rping -s -a 10.77.0.254 -C 10 -v -V > "$out" 2>&1; st=$?
cat "$out"
n=$(grep -c "^server ping data: rdma-ping-" "$out")
if [ $st = 0 ] && [ "$n" = 10 ]; then
  echo "provider-rping: rping -s on the provider, 10 pings verified, PASS after $(ms) ms"
else
  echo "provider-rping: rping -s on the provider FAIL (exit $st, $n pings)"
  rc=1
fi
[ $rc = 0 ] && echo "provider-rping: PASS"
exit $rc
