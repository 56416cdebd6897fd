# Host side of the mixed-stack allreduce (run by lab.sh -H inside the lab's network namespace: this host is
# 10.77.0.254 on the bridge, the guest 10.77.0.1). Rank 0 here on rfab's user-space RoCE (kernel-UDP
# datapath), rank 1 in the guest on rxe through libibverbs. Rank 0 hosts the store and receives its large
# messages in place (rxe writes them into its buffers: landings). $RFAB is the rfab binary.
set -u
# The bridge must not hand UDP GSO super-packets to the capture (see host/perftest_udp.sh).
ethtool -K rflbr0 tx-udp-segmentation off > /dev/null 2>&1 || true
. "$(dirname "$0")/../guest/coll_allreduce_args.sh"
rc=0 k=0 t0=$(date +%s%N)
while read -r port nrows args; do
  k=$((k + 1)) out=$RFAB_LAB_WORK/rank0.run$k.out
  # rxe sends every RoCE packet to UDP port 4791: this rank's RoCE socket must be bound there.
  # RFAB_TIMEOUT also bounds the first run's wait for the guest to boot and join the store.
  env MASTER_ADDR=10.77.0.254 MASTER_PORT=$port RANK=0 WORLD_SIZE=2 RFAB_TIMEOUT=150 \
    RFAB_TRANSPORT=udp RFAB_ROCE_ADDR=10.77.0.254 RFAB_ROCE_PORT=4791 RFAB_ROCE_DEBUG=1 \
    "$RFAB" coll allreduce $args > "$out" 2>&1; st=$?
  cat "$out"
  # -c 1: the #wrong columns (out-of-place $9, in-place $13) must be 0 on every row.
  rows=$(grep -cE '^ +[0-9]+ +[0-9]+ +float' "$out" || true)
  bad=$(awk '/^ +[0-9]+ +[0-9]+ +float/ && ($9 != 0 || $13 != 0)' "$out" | wc -l)
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  # The udp rank receives its large allgather messages in place: rxe writes them into its buffers.
  landed=$(sed -n 's/^rfab roce rank 0 (kernel UDP .* landed bytes \([0-9]*\)$/\1/p' "$out")
  if [ $st = 0 ] && [ "$rows" -eq "$nrows" ] && [ "$bad" -eq 0 ] && [ "${landed:-0}" -gt 0 ]; then
    echo "coll-mixed: run $k rank 0 (udp) PASS: $rows sizes, #wrong 0, $landed bytes landed in place, after $ms ms"
  else
    echo "coll-mixed: run $k rank 0 (udp) FAIL: exit $st, $rows of $nrows sizes, $bad rows with #wrong != 0, ${landed:-no} bytes landed"
    rc=1
  fi
done <<RUNS
$COLL_RUNS
RUNS
[ $rc = 0 ] && echo "coll-mixed: PASS"
exit $rc
