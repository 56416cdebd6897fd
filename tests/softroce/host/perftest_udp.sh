# Host side of the perftest <-> rfab interop test, run by lab.sh -H inside the lab's network namespace (this
# host is 10.77.0.254 on the bridge, the guest 10.77.0.1). $RFAB is the rfab binary. For each step of
# perftest_udp_steps.sh, `rfab perf VERB --perftest` as client or server must exit 0 with its data check ok.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../guest/perftest_udp_steps.sh"
GUEST=10.77.0.1
# The bridge must not hand UDP GSO super-packets to the capture: segment in the IP layer, as in front of a
# NIC without UDP segmentation offload (the segments then carry IP IDs 0, 1, 2, ... on the wire).
ethtool -K rflbr0 tx-udp-segmentation off > /dev/null 2>&1 || true
rc=0 k=0 t0=$(date +%s%N)
while read -r verb role size iters qps; do
  k=$((k + 1))
  # --timeout also bounds the client's connect retries: the first step waits for the guest to boot.
  args="--perftest -s $size -n $iters -q $qps -m 1024 --timeout 120"
  if [ "$role" = client ]; then
    "$RFAB" perf "$verb" $args "$GUEST" > "$RFAB_LAB_WORK/step$k.out" 2>&1; st=$?
  else
    "$RFAB" perf "$verb" $args --server > "$RFAB_LAB_WORK/step$k.out" 2>&1; st=$?
  fi
  cat "$RFAB_LAB_WORK/step$k.out"
  if [ $st = 0 ] && grep -q "data check      : ok" "$RFAB_LAB_WORK/step$k.out"; then
    echo "perftest-udp: step $k rfab perf $verb $role (-s $size -n $iters -q $qps) PASS after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  else
    echo "perftest-udp: step $k rfab perf $verb $role (-s $size -n $iters -q $qps) FAIL (exit $st)"
    rc=1
  fi
done <<STEPS
$PERFTEST_UDP_STEPS
STEPS
[ $rc = 0 ] && echo "perftest-udp: PASS"
exit $rc
