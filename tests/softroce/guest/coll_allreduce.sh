# Guest side of the mixed-stack allreduce (g0 = 10.77.0.1): rank 1 on rxe0 through libibverbs
# (RFAB_TRANSPORT=verbs), rank 0 on the host ($RFAB_LAB_PEER = 10.77.0.254) on rfab's user-space RoCE.
# Only rank 0 prints the table; with -c 1 every rank exits 1 unless the #wrong sum over all ranks is 0.
. /lab/coll_allreduce_args.sh
echo 1 > /proc/sys/debug/exception-trace 2>/dev/null  # a crash logs its faulting address (printed on failure)
rc=0 k=0
while read -r port nrows args; do
  k=$((k + 1))
  env MASTER_ADDR="$RFAB_LAB_PEER" MASTER_PORT=$port RANK=1 WORLD_SIZE=2 RFAB_TIMEOUT=120 \
    RFAB_TRANSPORT=verbs RFAB_ROCE_DEBUG=1 rfab coll allreduce $args > /tmp/out 2>&1; st=$?
  cat /tmp/out
  if [ $st = 0 ] && grep -q "rfab roce rank 1 (verbs rxe0 " /tmp/out; then
    echo "coll-mixed: run $k rank 1 (verbs rxe0) PASS: #wrong 0 at $(cut -d' ' -f1 /proc/uptime)s"
  else
    echo "coll-mixed: run $k rank 1 (verbs rxe0) FAIL (exit $st)"
    dmesg | grep -E "traps:|invalid opcode|segfault" | tail -3
    rc=1
  fi
done <<RUNS
$COLL_RUNS
RUNS
[ $rc = 0 ] && echo "coll-mixed: PASS"
exit $rc
