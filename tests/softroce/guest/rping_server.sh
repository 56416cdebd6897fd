# Guest side of the rping <-> verbs-provider test (one guest, g0 = 10.77.0.1 with rdma_rxe): Debian's
# unmodified rping as server on the kernel's rdma_cm (IB CM MADs on rxe0's QP1), for one connection of
# 10 verified pings from the provider's rping on the host. rping ends its threads with pthread_exit, which
# needs libgcc_s (the lab copies it to /lab; the base image has none).
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
