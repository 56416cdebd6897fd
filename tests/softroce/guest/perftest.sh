# Guest side of the perftest interop test: g0 serves, g1 connects (perftest's TCP exchange on port 18515,
# no rdma_cm). RC write, send and read bandwidth; 4 KiB messages so each one spans four 1024-byte MTU packets
# (FIRST/MIDDLE/LAST on the wire).
. /lab/gid.sh
GID=$(roce_v2_ipv4_gid rxe0) || exit 10
echo "perftest: $RFAB_LAB_NAME uses rxe0 GID index $GID"
ARGS="-d rxe0 -x $GID -c RC -s 4096 -n 200 -F --report_gbits"
rc=0
for t in ib_write_bw ib_send_bw ib_read_bw; do
  if [ "$RFAB_LAB_INDEX" = 0 ]; then
    timeout 60 $t $ARGS || { echo "perftest: server $t failed ($?)"; rc=1; }
  else
    ok=0
    for attempt in $(seq 30); do
      # The server may still be starting (or tearing down the previous test): retry the TCP connect.
      if timeout 60 $t $ARGS "$RFAB_LAB_PEER" > /tmp/out 2>&1; then ok=1; break; fi
      grep -q "Couldn't connect\|Unable to open file descriptor" /tmp/out || break
      sleep 1
    done
    cat /tmp/out
    [ $ok = 1 ] || { echo "perftest: client $t failed"; rc=1; }
  fi
done
exit $rc
