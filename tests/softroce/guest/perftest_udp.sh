# Guest side of the perftest <-> rfab interop test (one guest, g0 = 10.77.0.1; rfab runs on the host at
# $RFAB_LAB_PEER = 10.77.0.254, the bridge). For each step of perftest_udp_steps.sh: perftest's server when
# rfab is the client, perftest's client (retrying until rfab's server listens) when rfab is the server.
# perftest must exit 0 and print the result line for exactly -s bytes and -n x -q iterations (for a WRITE/READ
# server that line is the report the rfab client sent over perftest's side channel).
. /lab/gid.sh
. /lab/perftest_udp_steps.sh
GID=$(roce_v2_ipv4_gid rxe0) || exit 10
echo "perftest-udp: rxe0 GID index $GID"
rc=0 k=0
while read -r verb role size iters qps; do
  k=$((k + 1))
  args="-d rxe0 -x $GID -c RC -F --report_gbits -s $size -n $iters -q $qps"
  if [ "$role" = client ]; then
    timeout 120 ib_${verb}_bw $args > /tmp/out 2>&1; st=$?
  else
    st=1
    for attempt in $(seq 60); do
      timeout 120 ib_${verb}_bw $args "$RFAB_LAB_PEER" > /tmp/out 2>&1; st=$?
      [ $st = 0 ] && break
      grep -q "Couldn't connect\|Unable to open file descriptor" /tmp/out || break
      sleep 1
    done
  fi
  cat /tmp/out
  # perftest reports the iterations of all QPs together (-n x -q).
  if [ $st = 0 ] && grep -Eq "^ *$size +$((iters * qps)) +[0-9]" /tmp/out; then
    echo "perftest-udp: step $k ib_${verb}_bw (rfab $role, -s $size -n $iters -q $qps) PASS at $(cut -d' ' -f1 /proc/uptime)s"
  else
    echo "perftest-udp: step $k ib_${verb}_bw (rfab $role, -s $size -n $iters -q $qps) FAIL (exit $st)"
    rc=1
  fi
done <<STEPS
$PERFTEST_UDP_STEPS
STEPS
[ $rc = 0 ] && echo "perftest-udp: PASS"
exit $rc
