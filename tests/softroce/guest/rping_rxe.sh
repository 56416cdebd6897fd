# Guest side of the rping <-> verbs-provider test (one guest, g0 = 10.77.0.1 with rdma_rxe): Debian's
# unmodified rping on the kernel's rdma_cm (IB CM MADs on rxe0's QP1), first as server for one connection
# of 10 verified pings from the provider's rping -c on the host, then as client of the provider's rping -s
# (tried again while the host's server is not listening yet). rping ends its threads with pthread_exit,
# which needs libgcc_s (the lab copies it to /lab; the base image has none).
export LD_PRELOAD=/lab/libgcc_s.so.1
timeout 150 rping -s -a "$RFAB_LAB_IP" -C 10 -v -V > /tmp/rping.out 2>&1; st=$?
cat /tmp/rping.out
n=$(grep -c "^server ping data: rdma-ping-" /tmp/rping.out)
if [ $st = 0 ] && [ "$n" = 10 ]; then
  echo "rping-server: 10 pings verified, PASS"
else
  echo "rping-server: FAIL (exit $st, $n pings)"
  exit 1
fi
st=1
for attempt in $(seq 30); do
  timeout 60 rping -c -a "$RFAB_LAB_PEER" -C 10 -v -V > /tmp/rping.out 2>&1; st=$?
  [ $st = 0 ] && break
  grep -q "RDMA_CM_EVENT_REJECTED\|RDMA_CM_EVENT_UNREACHABLE" /tmp/rping.out || break
  sleep 1
done
cat /tmp/rping.out
n=$(grep -c "^ping data: rdma-ping-" /tmp/rping.out)
if [ $st = 0 ] && [ "$n" = 10 ]; then
  echo "rping-client: 10 pings verified, PASS"
else
  echo "rping-client: FAIL (exit $st, $n pings)"
  exit 1
fi
