# Host side of the full perftest <-> verbs-provider test, run by lab.sh -H inside the lab's network
# namespace (this host is 10.77.0.254 on the bridge rflbr0, the guest 10.77.0.1 with rdma_rxe). For each
# step of perftest_all_steps.sh the Debian perftest binary runs unmodified on rfab's user-space verbs
# provider (`rfab softroce shell --iface rflbr0`), as client or server against perftest on rxe0 in the
# guest; it must exit 0 and print the result line of the step's size and iterations.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../guest/perftest_all_steps.sh"
. "$HERE/provider_run.sh"
# Segment UDP GSO in the IP layer, so the capture holds wire packets.
ethtool -K rflbr0 tx-udp-segmentation off > /dev/null 2>&1 || true
rc=0 k=0 t0=$(date +%s%N)
while read -r tool role size iters extra; do
  k=$((k + 1))
  # shellcheck disable=SC2086
  args=$(perftest_all_args "$tool" "$iters" $extra)
  out="$RFAB_LAB_WORK/all-step$k.out"
  # shellcheck disable=SC2086
  provider_run "$role" "$out" "$tool" $args; st=$?
  cat "$out"
  if [ $st = 0 ] && perftest_all_result_ok "$out" "$size" "$iters"; then
    echo "provider-perftest-all: step $k $tool $extra on the provider as $role PASS after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  else
    echo "provider-perftest-all: step $k $tool $extra on the provider as $role FAIL (exit $st)"
    rc=1
  fi
done <<STEPS
$PERFTEST_ALL_STEPS
STEPS
[ $rc = 0 ] && echo "provider-perftest-all: PASS"
exit $rc
