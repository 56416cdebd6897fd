# Host side of the verbs-provider <-> rxe test, run by lab.sh -H inside the lab's network namespace (this
# host is 10.77.0.254 on the bridge rflbr0, the guest 10.77.0.1 with rdma_rxe). For each step of
# perftest_udp_steps.sh the Debian perftest binary runs unmodified on rfab's user-space verbs provider
# (`rfab softroce shell --iface rflbr0`), as client or server against perftest on rxe0 in the guest; it must
# exit 0 and print the result line for exactly -s bytes and -n x -q iterations.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../guest/perftest_udp_steps.sh"
. "$HERE/provider_run.sh"
# Segment UDP GSO in the IP layer, so the capture holds wire packets (as perftest_udp.sh does).
ethtool -K rflbr0 tx-udp-segmentation off > /dev/null 2>&1 || true
rc=0 k=0 t0=$(date +%s%N)
while read -r verb role size iters qps; do
  k=$((k + 1))
  args="-c RC -F --report_gbits -s $size -n $iters -q $qps"
  out="$RFAB_LAB_WORK/provider-step$k.out"
  # shellcheck disable=SC2086
  provider_run "$role" "$out" "ib_${verb}_bw" $args; st=$?
  cat "$out"
  if [ $st = 0 ] && grep -Eq "^ *$size +$((iters * qps)) +[0-9]" "$out"; then
    echo "provider-rxe: step $k ib_${verb}_bw on the provider as $role (-s $size -n $iters -q $qps) PASS after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  else
    echo "provider-rxe: step $k ib_${verb}_bw on the provider as $role (-s $size -n $iters -q $qps) FAIL (exit $st)"
    rc=1
  fi
done <<STEPS
$PERFTEST_UDP_STEPS
STEPS
[ $rc = 0 ] && echo "provider-rxe: PASS"
exit $rc
